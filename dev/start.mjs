#!/usr/bin/env node
// @ts-check
// `npm start`: the whole system on one machine, the way a pod runs it. Embedded PostgreSQL (data kept in .data/),
// then `modelgate-init all` (migrations, the model artifact), then `modelgate-app`, then a bootstrap API key.
// Ctrl-C stops the app (graceful drain), then PostgreSQL.
//
// Environment: PORT (default 8080; 0 picks a free one), MODEL_SOURCE_URL (default: examples/models.morpheus.json),
// MODELGATE_DATA_DIR (default .data/), UPSTREAM_URL and the app's other variables are passed through.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { startEmbeddedPostgres } from '../test/support/embedded-postgres.mjs';
import { freePort } from '../test/support/ports.mjs';
import { alive, watchParent } from '../test/support/watchdog.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = path.resolve(process.env.MODELGATE_DATA_DIR || path.join(root, '.data'));
const pgDir = path.join(dataDir, 'postgres');
const modelsFile = path.join(dataDir, 'run', 'models.json');
const modelSource =
  process.env.MODEL_SOURCE_URL || pathToFileURL(path.join(root, 'examples', 'models.morpheus.json')).href;
const port = process.env.PORT ?? '8080';
const adminToken = process.env.ADMIN_TOKEN || randomBytes(24).toString('hex');
const DATABASE = 'modelgate';
const BOOTSTRAP_USER = 'local';

/** @param {string} message */
const say = (message) => process.stdout.write(`${message}\n`);
/** @param {string} message */
const fail = (message) => {
  process.stderr.write(`npm start: ${message}\n`);
};

/** A postmaster left running by an earlier `npm start` that was killed outright holds the data directory. */
function refuseIfPostgresRunning() {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (alive(pid)) {
    fail(
      `PostgreSQL (pid ${pid}) is already running on ${pgDir}: another npm start is up, or an earlier one was ` +
        `killed. Stop it (kill ${pid}) or set MODELGATE_DATA_DIR to another folder.`,
    );
    process.exit(1);
  }
}

for (const bin of ['dist/bin/modelgate-app.js', 'dist/bin/modelgate-init.js']) {
  if (!fs.existsSync(path.join(root, bin))) {
    fail(`${bin} is missing; run "npm run build" first (npm start does it for you).`);
    process.exit(1);
  }
}
refuseIfPostgresRunning();
fs.mkdirSync(path.dirname(modelsFile), { recursive: true });

/** @type {Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined} */
let postgres;
/** @type {import('node:child_process').ChildProcess | undefined} */
let app;
let stopping = false;

/** Stops PostgreSQL, bounded: a postmaster already stopped by the terminal's Ctrl-C never reports again. */
async function stopPostgres() {
  if (!postgres) return;
  const { postmasterPid } = postgres;
  const current = postgres;
  postgres = undefined;
  if (!alive(postmasterPid)) return;
  await Promise.race([current.stop(), new Promise((resolve) => setTimeout(resolve, 15_000))]);
  if (alive(postmasterPid)) process.kill(/** @type {number} */ (postmasterPid), 'SIGKILL');
}

/** @param {number} code */
async function shutdown(code) {
  if (stopping) {
    // Second Ctrl-C: no more waiting.
    app?.kill('SIGKILL');
    await stopPostgres();
    process.exit(1);
  }
  stopping = true;
  say('Stopping modelgate-app, then PostgreSQL...');
  if (app && app.exitCode === null && app.signalCode === null) {
    const exited = new Promise((resolve) => app?.once('exit', resolve));
    app.kill('SIGTERM');
    const timer = setTimeout(() => app?.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
  await stopPostgres();
  say('Stopped.');
  process.exit(code);
}

/**
 * Children run in their own process group: the terminal's Ctrl-C reaches only this launcher, which stops them in
 * order (otherwise the app would see SIGINT and then our SIGTERM as a second, forcing signal).
 * @param {string} bin
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} env
 */
function run(bin, args, env) {
  const child = spawn(process.execPath, [path.join(root, bin), ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stderr?.pipe(process.stderr);
  return child;
}

/** @param {import('node:child_process').ChildProcess} child */
function forwardLogs(child) {
  readline
    .createInterface({ input: /** @type {import('node:stream').Readable} */ (child.stdout) })
    .on('line', (line) => {
      process.stderr.write(`${line}\n`);
    });
}

/** @param {string} url @param {number} timeoutMs */
async function waitReady(url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.status === 200) return;
      last = JSON.stringify(await res.json());
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`modelgate-app did not become ready within ${timeoutMs / 1000}s: ${last}`);
}

/**
 * Creates the `local` user and its first key through the admin API, once per data directory.
 * @param {string} base
 */
async function bootstrapKey(base) {
  const headers = { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' };
  const list = await fetch(`${base}/api/v1/admin/users?limit=100`, { headers });
  if (!list.ok) throw new Error(`GET /api/v1/admin/users answered ${list.status}: ${await list.text()}`);
  const users = /** @type {{ data: { name: string }[] }} */ (await list.json()).data;
  if (users.some((user) => user.name === BOOTSTRAP_USER)) return undefined;
  const created = await fetch(`${base}/api/v1/admin/users`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ name: BOOTSTRAP_USER, key_name: 'bootstrap (npm start)' }),
  });
  if (created.status !== 201)
    throw new Error(`POST /api/v1/admin/users answered ${created.status}: ${await created.text()}`);
  return /** @type {{ key: { key: string } }} */ (await created.json()).key.key;
}

async function main() {
  postgres = await startEmbeddedPostgres({ dir: pgDir, persistent: true });
  // embedded-postgres installs exit hooks that stop PostgreSQL on the first signal; we stop it ourselves, after
  // the app has drained.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.removeAllListeners(signal);
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  process.on('SIGHUP', () => void shutdown(0));
  say(`PostgreSQL pid ${postgres.postmasterPid} on 127.0.0.1:${postgres.port}, data in ${pgDir}`);

  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
  if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DATABASE}`);
  await admin.end();
  const databaseUrl = postgres.url.replace(/\/postgres$/, `/${DATABASE}`);

  const env = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    MODELS_FILE: modelsFile,
    MODEL_SOURCE_URL: modelSource,
    HOSTNAME: process.env.HOSTNAME || 'local',
  };
  delete env.MODELS_CONFIGMAP;
  say(`Running modelgate-init all (migrations, models from ${modelSource})...`);
  const init = run('dist/bin/modelgate-init.js', ['all'], env);
  forwardLogs(init);
  const initCode = await new Promise((resolve) => init.once('exit', resolve));
  if (initCode !== 0) throw new Error(`modelgate-init all exited with ${initCode}; see its log above`);

  // The launcher picks the port, so it knows where to look whatever LOG_LEVEL hides.
  const appPort = port === '0' ? await freePort() : Number(port);
  app = run('dist/bin/modelgate-app.js', [], {
    ...env,
    HOST: process.env.HOST || '127.0.0.1',
    PORT: String(appPort),
    ADMIN_TOKEN: adminToken,
    SHUTDOWN_DELAY: process.env.SHUTDOWN_DELAY || '0',
    SHUTDOWN_TIMEOUT: process.env.SHUTDOWN_TIMEOUT || '10s',
  });
  app.once('exit', (code, signal) => {
    if (stopping) return;
    stopping = true;
    fail(`modelgate-app exited unexpectedly (${signal ?? code}); see its log above. Stopping PostgreSQL.`);
    void stopPostgres().then(() => process.exit(1));
  });
  forwardLogs(app);
  const base = `http://127.0.0.1:${appPort}`;
  await waitReady(`${base}/readyz`, 30_000);
  const key = await bootstrapKey(base);
  const models = /** @type {{ models: { count: number } }} */ (await (await fetch(`${base}/status`)).json());

  say('');
  say(`modelgate is running at ${base}`);
  say(`  models:   ${models.models.count} from ${modelSource}`);
  if (key) {
    say(`  API key:  ${key}`);
    say('            (shown once: only its hash is stored; keep it)');
  } else {
    say(
      `  API key:  the "${BOOTSTRAP_USER}" user's key was printed by the first npm start on this data folder.`,
    );
    say('            Lost it? Create another user and key with the admin token below:');
    say(
      `            curl -X POST -H "Authorization: Bearer ${adminToken}" -H "Content-Type: application/json" ` +
        `-d '{"name":"me"}' ${base}/api/v1/admin/users`,
    );
  }
  say(`  admin:    ADMIN_TOKEN=${adminToken} (this run only) for ${base}/api/v1/admin/users`);
  say(`  try:      curl -H "Authorization: Bearer <API key>" ${base}/api/v1/models`);
  say(`  probes:   ${base}/readyz  ${base}/status  ${base}/metrics`);
  say('Press Ctrl-C to stop everything (PostgreSQL included).');
}

/**
 * The foreground process only relays: the work runs in a detached supervisor (its own process group), so the
 * terminal's Ctrl-C, which reaches the whole foreground group, cannot hit PostgreSQL and the app before the
 * supervisor stops them in order; and the supervisor stops everything when this process dies, even by SIGKILL.
 */
function relay() {
  const supervisor = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
    env: { ...process.env, [PARENT_ENV]: String(process.pid) },
    stdio: 'inherit',
    detached: true,
  });
  for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
    // embedded-postgres' import installed exit-on-signal hooks; here a signal only asks the supervisor to stop.
    process.removeAllListeners(signal);
    process.on(signal, () => supervisor.kill('SIGTERM'));
  }
  supervisor.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

function supervise(/** @type {number} */ parentPid) {
  watchParent(parentPid, () => {
    if (!stopping) void shutdown(1);
  });
  main().catch(async (error) => {
    if (stopping) return;
    fail(error instanceof Error ? error.message : String(error));
    if (app && app.exitCode === null) app.kill('SIGKILL');
    await stopPostgres();
    process.exit(1);
  });
}

const PARENT_ENV = 'MODELGATE_START_PARENT';
const parentPid = Number(process.env[PARENT_ENV] || 0);
if (parentPid) supervise(parentPid);
else relay();

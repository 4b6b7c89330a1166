#!/usr/bin/env node
// @ts-check
// The run half of `npm run image:check` (scripts/image/check.sh builds the image and mounts it first).
// Checks the built image the way a cluster would use it, with real parts: its config and contents (numeric non-root
// user, labels, entry points, no dev dependencies or sources), then `modelgate-init all` and the image's default
// command (`modelgate-app`) run from the image's root filesystem, read-only, as the image's user, against a real
// PostgreSQL and a real HTTP model source; the app must report ready on /readyz and stop cleanly on SIGTERM.
//
// Usage (as root): node test/image/run-image.mjs <rootfs> <image-config.json>
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startEmbeddedPostgres } from '../support/embedded-postgres.mjs';
import { freePort } from '../support/ports.mjs';
import { bundledPackages } from '../../scripts/image/third-party-notices.mjs';
import { tempDir } from '../support/temp.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const sandbox = path.join(repo, 'scripts', 'image', 'sandbox.sh');
const INIT_TIMEOUT_MS = 180_000;
const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 30_000;

if (process.argv.length !== 4) {
  console.error('usage: node test/image/run-image.mjs <rootfs> <image-config.json>');
  process.exit(2);
}
const rootfs = /** @type {string} */ (process.argv[2]);
const configFile = /** @type {string} */ (process.argv[3]);

/** @param {string} message */
const say = (message) => process.stdout.write(`image: ${message}\n`);

class CheckFailed extends Error {}

/** @param {unknown} condition @param {string} message @returns {asserts condition} */
function check(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

/** @param {string} inImage a path as the image sees it */
const inRoot = (inImage) => path.join(rootfs, inImage);

/**
 * @typedef {{ User?: string, Env?: string[], Cmd?: string[], Entrypoint?: string[] | null, WorkingDir?: string,
 *   Labels?: Record<string, string> }} ImageConfig
 */

/** @param {ImageConfig} config */
function checkConfig(config) {
  check(
    /^\d+(:\d+)?$/.test(config.User ?? ''),
    `USER must be numeric (uid:gid), found ${JSON.stringify(config.User)}`,
  );
  check(!/^0(:|$)/.test(config.User ?? ''), `USER must not be root, found ${config.User}`);
  check(
    !config.Entrypoint || config.Entrypoint.length === 0,
    `ENTRYPOINT must be empty, found ${config.Entrypoint}`,
  );
  check(
    JSON.stringify(config.Cmd) === JSON.stringify(['modelgate-app']),
    `CMD must be ["modelgate-app"], found ${JSON.stringify(config.Cmd)}`,
  );
  check(config.WorkingDir === '/app', `WORKDIR must be /app, found ${config.WorkingDir}`);
  const labels = config.Labels ?? {};
  const version = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')).version;
  check(labels['org.opencontainers.image.title'] === 'modelgate', 'OCI label title missing');
  check(labels['org.opencontainers.image.version'] === version, `OCI label version must be ${version}`);
  check(labels['org.opencontainers.image.licenses'] === 'Apache-2.0', 'OCI label licenses missing');
  check(
    /^[0-9a-f]{40}$/.test(labels['org.opencontainers.image.revision'] ?? ''),
    'OCI label revision missing',
  );
  check(
    !Number.isNaN(Date.parse(labels['org.opencontainers.image.created'] ?? '')),
    'OCI label created missing',
  );
  check(Boolean(labels['org.opencontainers.image.base.name']), 'OCI label base.name missing');
}

/** @param {string} dir @returns {string[]} files below dir, relative to it */
function walk(dir) {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .flatMap((entry) =>
      entry.isFile() ? [path.relative(dir, path.join(entry.parentPath, entry.name))] : [],
    );
}

/** The files each executable of package.json "bin" brings into dist/bin, beside the shared launch.js. */
const binFiles = (/** @type {string} */ name) => [
  `${name}.js`,
  `${name}.bundle.js`,
  `${name}.bundle.js.LEGAL.txt`,
  `${name}.bundle.cache`,
];

// Dev-only packages allowed in a bundle: none. (debug's optional supports-color is kept out by
// scripts/build/bundle.mjs; any dev-only package esbuild would pick up from the build stage fails the check.)
const DEV_ONLY_BUNDLED = /** @type {string[]} */ ([]);

function checkContents() {
  const pkg = JSON.parse(fs.readFileSync(inRoot('/app/package.json'), 'utf8'));
  check(pkg.name === 'modelgate', '/app/package.json must be modelgate (packageRoot() looks for it)');
  const bins = Object.keys(pkg.bin ?? {}).sort();
  check(
    JSON.stringify(bins) === JSON.stringify(['modelgate-app', 'modelgate-init']),
    `package.json "bin" must name modelgate-app and modelgate-init, found ${bins.join(', ')}`,
  );
  for (const bin of bins) {
    const link = inRoot(`/usr/local/bin/${bin}`);
    check(fs.lstatSync(link).isSymbolicLink(), `/usr/local/bin/${bin} must be a symlink into /app/dist/bin`);
    const target = fs.readlinkSync(link);
    check(
      target === path.posix.join('/app', pkg.bin[bin]),
      `/usr/local/bin/${bin} must point at /app/${pkg.bin[bin]} (package.json "bin"), found ${target}`,
    );
    check(fs.existsSync(inRoot(target)), `/usr/local/bin/${bin} points at a missing file`);
  }

  const migrations = (/** @type {string} */ dir) =>
    fs
      .readdirSync(dir)
      .filter((name) => name.endsWith('.js'))
      .sort();
  const shipped = migrations(inRoot('/app/core/db/migrations'));
  const source = migrations(path.join(repo, 'core', 'db', 'migrations'));
  check(
    JSON.stringify(shipped) === JSON.stringify(source),
    `/app/core/db/migrations must hold every migration: ${shipped.join(',')} vs ${source.join(',')}`,
  );

  // The bundles need no node_modules: /app holds the bundles, the migrations, package.json and the notices.
  const listing = (/** @type {string} */ dir) => fs.readdirSync(inRoot(dir)).sort().join(', ');
  const expectOnly = (/** @type {string} */ dir, /** @type {string[]} */ names) =>
    check(
      listing(dir) === [...names].sort().join(', '),
      `${dir} must hold only ${[...names].sort().join(', ')}; found ${listing(dir)}`,
    );
  expectOnly('/app', ['THIRD-PARTY-NOTICES.txt', 'core', 'dist', 'package.json']);
  expectOnly('/app/dist', ['bin', 'docs']);
  // modelgate-tokenizer.js: the usage ledger's tokenizer worker thread, started by the app at its first estimate.
  expectOnly('/app/dist/bin', ['launch.js', 'modelgate-tokenizer.js', ...bins.flatMap(binFiles)]);
  // The API reference's browser files, sent by /docs (app/docs/docs-routes.ts; copied by scripts/build/bundle.mjs).
  expectOnly('/app/dist/docs', [
    'swagger-ui-bundle.js.gz',
    'swagger-ui-bundle.js.LICENSE.txt',
    'swagger-ui.css.gz',
  ]);
  expectOnly('/app/core', ['db']);
  expectOnly('/app/core/db', ['migrations']);
  const ownFiles = walk(inRoot('/app'));
  const strays = ownFiles.filter(
    (f) => /\.(ts|map)$/.test(f) || /(^|\/)(test|node_modules)\//.test(f) || /\.test\.js$/.test(f),
  );
  check(
    strays.length === 0,
    `sources, tests, source maps or modules shipped: ${strays.slice(0, 5).join(', ')}`,
  );

  // What the bundles hold: no dev-only package (beyond the one known above), and each package's license text in
  // the notices. esbuild names every CommonJS module it bundles by its node_modules path.
  const lock = JSON.parse(fs.readFileSync(path.join(repo, 'package-lock.json'), 'utf8'));
  const bundles = bins.map((bin) => fs.readFileSync(inRoot(`/app/dist/bin/${bin}.bundle.js`), 'utf8'));
  const bundled = [...bundledPackages(bundles)].sort();
  const unknown = bundled.filter((key) => !lock.packages[key]);
  check(unknown.length === 0, `bundled packages not in the lockfile: ${unknown.slice(0, 5).join(', ')}`);
  const devBundled = bundled.filter((key) => lock.packages[key].dev && !DEV_ONLY_BUNDLED.includes(key));
  check(devBundled.length === 0, `dev dependencies bundled: ${devBundled.slice(0, 5).join(', ')}`);
  const notices = fs.readFileSync(inRoot('/app/THIRD-PARTY-NOTICES.txt'), 'utf8');
  const production = Object.entries(lock.packages)
    .filter(([key, meta]) => key.startsWith('node_modules/') && !meta.dev && !meta.optional)
    .map(([key]) => key);
  const noticed = (/** @type {string} */ key) =>
    notices.includes(`\n${key.slice(key.lastIndexOf('node_modules/') + 13)}@${lock.packages[key].version} (`);
  const unnoticed = [...new Set([...production, ...bundled])].filter((key) => !noticed(key));
  check(
    unnoticed.length === 0,
    `licenses missing from THIRD-PARTY-NOTICES.txt: ${unnoticed.slice(0, 5).join(', ')}`,
  );
  say(
    `contents ok: no node_modules, ${bundled.length} packages named in the bundles (none dev-only), ` +
      `licenses of ${production.length} production packages, ${shipped.length} migrations`,
  );
}

/** Serves the example morpheus document like a real source (ETag, conditional GET). */
async function startModelSource() {
  const body = fs.readFileSync(path.join(repo, 'examples', 'models.morpheus.json'));
  const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests += 1;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { ETag: etag }).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', ETag: etag }).end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${address.port}/models.json`,
    requests: () => requests,
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}

/** @typedef {{ artifacts: string, env: Record<string, string>, user: string, workdir: string }} Box */

/**
 * A command from the image, in the sandbox (read-only root, image user, own namespaces).
 * @param {Box} box
 * @param {string[]} command
 */
function runInImage(box, command) {
  const envFile = path.join(
    os.tmpdir(),
    `modelgate-image-env-${process.pid}-${Math.random().toString(36).slice(2)}`,
  );
  fs.writeFileSync(
    envFile,
    Object.entries(box.env)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
    { mode: 0o600 },
  );
  const child = spawn('bash', [sandbox, rootfs, box.artifacts, envFile, '--', ...command], {
    env: { ...process.env, SANDBOX_USER: box.user, SANDBOX_WORKDIR: box.workdir },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so that cleanup can kill the wrapper, unshare and the sandboxed process at once.
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  /** @type {Promise<number | null>} */
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      fs.rmSync(envFile, { force: true });
      resolve(code ?? (signal ? 128 : null));
    }),
  );
  return { child, exited, output: () => output };
}

/** @template T @param {Promise<T>} promise @param {number} ms @param {string} what @returns {Promise<T>} */
async function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new CheckFailed(`${what} did not finish within ${ms / 1000}s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Proves the sandbox is what the check claims: image user, read-only root, writable /tmp and artifact dir.
 * @param {Box} box
 */
async function checkSandbox(box) {
  const probe = `
    const fs = require('node:fs');
    const writable = (p) => { try { fs.writeFileSync(p, 'x'); fs.rmSync(p); return 'ok'; } catch (e) { return e.code; } };
    console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), pid: process.pid, cwd: process.cwd(),
      paths: Object.fromEntries(['/probe', '/app/probe', '/etc/probe', '/usr/local/bin/probe', '/tmp/probe',
        '/var/run/modelgate/probe'].map((p) => [p, writable(p)])) }));`;
  const run = runInImage(box, ['node', '-e', probe]);
  const code = await within(run.exited, 60_000, 'the sandbox probe');
  check(code === 0, `the sandbox probe failed (exit ${code}):\n${run.output()}`);
  const seen = JSON.parse(run.output().trim().split('\n').pop() ?? '{}');
  const [uid, gid] = box.user.split(':').map(Number);
  check(
    seen.uid === uid && seen.gid === (gid ?? uid),
    `runs as ${seen.uid}:${seen.gid}, expected ${box.user}`,
  );
  check(seen.pid === 1, `the entry point must be PID 1 as in a container, was ${seen.pid}`);
  check(seen.cwd === box.workdir, `working directory ${seen.cwd}, expected ${box.workdir}`);
  for (const p of ['/probe', '/app/probe', '/etc/probe', '/usr/local/bin/probe'])
    check(seen.paths[p] === 'EROFS', `${p} must be on a read-only root filesystem, got ${seen.paths[p]}`);
  for (const p of ['/tmp/probe', '/var/run/modelgate/probe'])
    check(seen.paths[p] === 'ok', `${p} must be writable, got ${seen.paths[p]}`);
  say(`sandbox ok: uid ${seen.uid}, PID 1, root filesystem read-only, /tmp and /var/run/modelgate writable`);
}

/**
 * The image's node must accept the code cache beside the bundle (the build stage's node wrote it; the runtime's
 * must be the same build): a rejected one means every start compiles the bundle from source, most of a cold start.
 * @param {string} bin @param {string} output
 */
function checkCodeCacheAccepted(bin, output) {
  const rejected = output.split('\n').find((line) => /code cache .* rejected/.test(line));
  check(!rejected, `${bin} started without its code cache: ${rejected}`);
}

/** @param {string} url @param {number} ms */
async function waitForReady(url, ms) {
  const deadline = Date.now() + ms;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      const text = await res.text();
      if (res.status === 200) return text;
      last = `${res.status} ${text}`;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new CheckFailed(`/readyz did not answer 200 within ${ms / 1000}s; last: ${last}`);
}

async function main() {
  const started = Date.now();
  /** @type {ImageConfig} */
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8')).config ?? {};
  checkConfig(config);
  say(`config ok: USER ${config.User}, CMD ${JSON.stringify(config.Cmd)}, OCI labels present`);
  checkContents();

  const cleanups = /** @type {(() => Promise<unknown> | void)[]} */ ([]);
  const running = /** @type {import('node:child_process').ChildProcess[]} */ ([]);
  const stopAll = async () => {
    for (const child of running) {
      if (child.exitCode !== null || child.signalCode !== null || !child.pid) continue;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  for (const signal of ['SIGINT', 'SIGTERM'])
    process.once(signal, () => void stopAll().finally(() => process.exit(130)));
  try {
    const work = tempDir('image-check');
    cleanups.push(() => fs.rmSync(work, { recursive: true, force: true }));
    // PostgreSQL runs as its own user when we are root: it must reach its data directory.
    fs.chmodSync(work, 0o755);
    const postgres = await startEmbeddedPostgres({ dir: path.join(work, 'pg') });
    cleanups.push(() => postgres.stop());
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    await admin.query('CREATE DATABASE modelgate');
    await admin.end();
    const source = await startModelSource();
    cleanups.push(() => source.close());

    const user = /** @type {string} */ (config.User);
    const [uid = 0, gid = uid] = user.split(':').map(Number);
    const artifacts = path.join(work, 'artifacts');
    fs.mkdirSync(artifacts);
    fs.chownSync(artifacts, uid, gid);
    const imageEnv = Object.fromEntries((config.Env ?? []).map((line) => line.split(/=(.*)/s).slice(0, 2)));
    const env = {
      ...imageEnv,
      DATABASE_URL: postgres.url.replace(/\/postgres$/, '/modelgate'),
      MODEL_SOURCE_URL: source.url,
      HOSTNAME: 'image-check',
      // The launcher says so on stderr when V8 rejects the code cache written in the runtime stage.
      MODELGATE_DEBUG_CODE_CACHE: '1',
    };
    const box = { artifacts, env, user, workdir: /** @type {string} */ (config.WorkingDir) };
    await checkSandbox(box);

    let t = Date.now();
    const init = runInImage(box, ['modelgate-init', 'all']);
    running.push(init.child);
    const initCode = await within(init.exited, INIT_TIMEOUT_MS, 'modelgate-init all');
    check(initCode === 0, `modelgate-init all exited ${initCode}:\n${init.output()}`);
    checkCodeCacheAccepted('modelgate-init', init.output());
    const artifactFile = path.join(artifacts, 'models.json');
    check(fs.existsSync(artifactFile), `modelgate-init all wrote no ${env.MODELS_FILE ?? 'models.json'}`);
    check(fs.statSync(artifactFile).uid === uid, 'the artifact must be owned by the image user');
    const artifact = JSON.parse(fs.readFileSync(artifactFile, 'utf8'));
    check(artifact.formatVersion === 1 && artifact.models.length > 0, 'the artifact holds no models');
    check(source.requests() >= 1, 'modelgate-init all never asked the model source');
    say(
      `modelgate-init all ok in ${((Date.now() - t) / 1000).toFixed(1)}s: ${artifact.models.length} models`,
    );

    t = Date.now();
    const port = await freePort();
    const app = runInImage(
      { ...box, env: { ...env, HOST: '127.0.0.1', PORT: String(port), SHUTDOWN_DELAY: '0' } },
      [...(config.Cmd ?? [])],
    );
    running.push(app.child);
    const base = `http://127.0.0.1:${port}`;
    const ready = await within(
      Promise.race([
        waitForReady(`${base}/readyz`, READY_TIMEOUT_MS),
        app.exited.then((code) => {
          throw new CheckFailed(`modelgate-app exited ${code} before it was ready:\n${app.output()}`);
        }),
      ]),
      READY_TIMEOUT_MS + 5000,
      'modelgate-app readiness',
    );
    const status = /** @type {{ models?: { count?: number } }} */ (
      await (await fetch(`${base}/status`)).json()
    );
    check(
      status.models?.count === artifact.models.length,
      `/status must report the artifact's ${artifact.models.length} models, found ${JSON.stringify(status.models)}`,
    );
    say(`modelgate-app ready in ${((Date.now() - t) / 1000).toFixed(1)}s: /readyz 200 ${ready.trim()}`);
    // The index and the API reference come from the image itself (dist/docs), not from node_modules.
    const index = /** @type {{ name?: string, links?: Record<string, string> }} */ (
      await (await fetch(`${base}/`)).json()
    );
    check(
      index.name === 'modelgate' && index.links?.docs === '/docs',
      `GET / is not the index: ${JSON.stringify(index)}`,
    );
    for (const file of ['/docs', '/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css']) {
      const res = await fetch(`${base}${file}`);
      const bytes = (await res.arrayBuffer()).byteLength;
      check(res.status === 200 && bytes > 0, `${file} answered ${res.status} with ${bytes} bytes`);
    }
    say('GET / and /docs with its files ok');

    app.child.kill('SIGTERM');
    const appCode = await within(app.exited, STOP_TIMEOUT_MS, 'modelgate-app shutdown after SIGTERM');
    check(appCode === 0, `modelgate-app exited ${appCode} after SIGTERM:\n${app.output()}`);
    say('modelgate-app stopped on SIGTERM with exit 0');
    checkCodeCacheAccepted('modelgate-app', app.output());
    say('code caches accepted by the image\'s node (no "rejected" line with MODELGATE_DEBUG_CODE_CACHE=1)');
  } finally {
    await stopAll();
  }
  say(`run check passed in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

main().catch((error) => {
  console.error(`image: FAILED: ${error instanceof CheckFailed ? error.message : (error?.stack ?? error)}`);
  process.exit(1);
});

// @ts-check
// `npm run bench:api`: the gateway API under load with autocannon, 50 connections.
//  1. authenticated GET /api/v1/models of the app built by createApp as production builds it, beside a bare express
//     GET /hello on a second port of the same server process (the floor);
//  2. chat storage: append a message and read the chat's messages, 50 chats, one per connection.
// Results: bench/results/api.json and api.md. BENCH_QUICK=1 runs one 3 s round instead of five 5 s rounds.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';
import autocannon from 'autocannon';
import knex from 'knex';
import { log, median, quick, repoRoot as root, resultsDir } from './lib/common.mjs';
import { startPostgres } from './lib/postgres.mjs';
import { stopOnInterrupt } from './lib/processes.mjs';

const require = createRequire(import.meta.url);
/** /hello and /models alternate in short rounds, so both see the same background load on a shared machine. */
const rounds = quick ? 1 : 5;
const duration = quick ? 3 : 5;
const connections = 50;
const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef0123456789';

if (!fs.existsSync(path.join(root, 'dist', 'app', 'api', 'index.js'))) {
  console.error('dist/ is missing the API; run `npm run build` first (npm run bench:api does).');
  process.exit(2);
}

/** @param {string} databaseUrl */
async function migrate(databaseUrl) {
  const { migratorConfig } = require('../dist/core/db/migrations.js');
  const db = knex({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 2 } });
  await db.migrate.latest(migratorConfig());
  await db.destroy();
}

/** @param {string} databaseUrl */
async function startServer(databaseUrl) {
  const child = spawn(process.execPath, [path.join(root, 'bench', 'api-server.mjs')], {
    env: { ...process.env, DATABASE_URL: databaseUrl, ADMIN_TOKEN, DB_POOL_MAX: '10' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise((resolve, reject) => {
    readline
      .createInterface({ input: /** @type {import('stream').Readable} */ (child.stdout) })
      .once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  const ports = JSON.parse(/** @type {string} */ (line));
  return { child, url: `http://127.0.0.1:${ports.port}`, helloUrl: `http://127.0.0.1:${ports.helloPort}` };
}

/** @param {autocannon.Options} options */
function run(options) {
  return new Promise((resolve, reject) => {
    autocannon({ connections, duration, ...options }, (error, result) =>
      error ? reject(error) : resolve(result),
    );
  });
}

/** @param {string} name @param {any} result */
function summary(name, result) {
  const s = {
    scenario: name,
    requestsPerSecond: Math.round(result.requests.average),
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
  log(
    `${name}: ${s.requestsPerSecond} req/s, p99 ${s.latencyMs.p99} ms, non-2xx ${s.non2xx}, errors ${s.errors}`,
  );
  return s;
}

/** Medians over the rounds of one scenario. @param {string} name @param {any[]} perRound */
function combine(name, perRound) {
  return {
    scenario: name,
    requestsPerSecond: Math.round(median(perRound.map((r) => r.requestsPerSecond))),
    latencyMs: {
      p50: median(perRound.map((r) => r.latencyMs.p50)),
      p99: median(perRound.map((r) => r.latencyMs.p99)),
      max: Math.max(...perRound.map((r) => r.latencyMs.max)),
    },
    requests: perRound.reduce((sum, r) => sum + r.requests, 0),
    non2xx: perRound.reduce((sum, r) => sum + r.non2xx, 0),
    errors: perRound.reduce((sum, r) => sum + r.errors, 0),
    timeouts: perRound.reduce((sum, r) => sum + r.timeouts, 0),
  };
}

async function main() {
  const pg = await startPostgres();
  /** @type {{ child: import('node:child_process').ChildProcess, url: string, helloUrl: string } | undefined} */
  let server;
  stopOnInterrupt(async () => {
    server?.child.kill('SIGKILL');
    await pg.stop();
  });
  try {
    const databaseUrl = await pg.createDatabase('bench_api');
    await migrate(databaseUrl);
    server = await startServer(databaseUrl);
    const base = server.url;
    const hello = `${server.helloUrl}/hello`;
    /** @type {any} */
    const created = await fetch(`${base}/api/v1/admin/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench' }),
    }).then((r) => r.json());
    const key = created.key.key;
    const auth = { authorization: `Bearer ${key}` };
    /** @type {string[]} */
    const chats = [];
    for (let i = 0; i < connections; i += 1) {
      /** @type {any} */
      const chat = await fetch(`${base}/api/v1/chat-history/chats`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ title: `bench ${i}` }),
      }).then((r) => r.json());
      chats.push(chat.id);
    }

    const modelsBodyBytes = (
      await fetch(`${base}/api/v1/models`, { headers: auth }).then((r) => r.arrayBuffer())
    ).byteLength;
    log(`warm-up, then ${rounds} rounds of ${duration} s per scenario at ${connections} connections`);
    await run({ url: hello, duration: 2 });
    await run({ url: `${base}/api/v1/models`, headers: auth, duration: 2 });
    /** @type {any[]} */
    const helloRounds = [];
    /** @type {any[]} */
    const modelRounds = [];
    for (let round = 1; round <= rounds; round += 1) {
      helloRounds.push(summary(`round ${round}: bare express GET /hello`, await run({ url: hello })));
      modelRounds.push(
        summary(
          `round ${round}: authenticated GET /api/v1/models`,
          await run({ url: `${base}/api/v1/models`, headers: auth }),
        ),
      );
    }
    const helloResult = combine('bare express GET /hello', helloRounds);
    const models = combine('authenticated GET /api/v1/models', modelRounds);
    const ratios = modelRounds.map((m, i) => m.requestsPerSecond / helloRounds[i].requestsPerSecond);

    let next = 0;
    const chatStorage = summary(
      'chat storage: append + read (50 chats)',
      await run({
        url: base,
        duration: duration * 3,
        requests: [
          {
            method: 'POST',
            headers: { ...auth, 'content-type': 'application/json' },
            setupRequest: (request, /** @type {any} */ context) => {
              context.chat = chats[next++ % chats.length];
              return {
                ...request,
                path: `/api/v1/chat-history/chats/${context.chat}/messages`,
                body: JSON.stringify({ role: 'user', content: 'hello from the benchmark', tokens: 5 }),
              };
            },
          },
          {
            method: 'GET',
            headers: auth,
            setupRequest: (request, /** @type {any} */ context) => ({
              ...request,
              path: `/api/v1/chat-history/chats/${context.chat}/messages?limit=50`,
            }),
          },
        ],
      }),
    );

    const ratio = median(ratios);
    const results = {
      benchmark: 'api',
      quick,
      finishedAt: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpu: os.cpus()[0]?.model,
        node: process.version,
        loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100),
      },
      connections,
      durationSeconds: duration,
      rounds,
      modelsBodyBytes,
      modelsVsBareExpressPerRound: ratios.map((r) => Math.round(r * 1000) / 1000),
      scenarios: [helloResult, models, chatStorage],
      modelsVsBareExpress: Math.round(ratio * 1000) / 1000,
      goals: {
        'models >= 70% of bare express req/s': ratio >= 0.7,
        'models p99 < 25 ms': models.latencyMs.p99 < 25,
      },
    };
    fs.mkdirSync(resultsDir, { recursive: true });
    fs.writeFileSync(path.join(resultsDir, 'api.json'), `${JSON.stringify(results, null, 2)}\n`);
    const rows = results.scenarios.map(
      (s) =>
        `| ${s.scenario} | ${s.requestsPerSecond} | ${s.latencyMs.p50} | ${s.latencyMs.p99} | ${s.non2xx} |`,
    );
    fs.writeFileSync(
      path.join(resultsDir, 'api.md'),
      [
        `# bench:api (${results.finishedAt}, ${quick ? 'quick' : 'full'}, ${connections} connections)`,
        '',
        `/models answers ${modelsBodyBytes} bytes (the catalog of the run), /hello 17 bytes. /hello and /models: ${rounds} interleaved rounds of ${duration} s each, medians over the rounds; chat storage: ${duration * 3} s.`,
        '',
        `Machine: ${results.machine.cpus} CPUs (${results.machine.cpu}), Node ${results.machine.node}; server and load generator share it; load average at the end ${results.machine.loadAverageAtEnd.join(' ')}.`,
        '',
        '| Scenario | req/s | p50 ms | p99 ms | non-2xx |',
        '| --- | --- | --- | --- | --- |',
        ...rows,
        '',
        `Authenticated /models reaches ${(ratio * 100).toFixed(1)}% of bare express (goal >= 70%); p99 ${models.latencyMs.p99} ms (goal < 25 ms).`,
        '',
      ].join('\n'),
    );
    log(`wrote bench/results/api.json and api.md (models at ${(ratio * 100).toFixed(1)}% of bare express)`);
  } finally {
    const child = server?.child;
    if (child) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await pg.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

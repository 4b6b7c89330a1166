#!/usr/bin/env node
// @ts-check
// `npm run bench:startup`: how long modelgate-app takes from spawn to its first 200 on /readyz with a 5,000-model
// artifact, beside a bare `node -e ''` and a bare express listen measured in the same run (same machine, same
// moment), and the app's peak RSS. Writes bench/results/startup.json and startup.md. It measures; it asserts
// nothing. Goals (issue 4): median at most 2.5x bare node; peak RSS at most 100 MiB.
//
// BENCH_RUNS (default 20), BENCH_MODELS (default 5000).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { quantile } from './lib/common.mjs';
import { startEmbeddedPostgres } from '../test/support/embedded-postgres.mjs';
import { artifactModels } from '../test/support/models.mjs';
import { freePort } from '../test/support/ports.mjs';
import { tempDir } from '../test/support/temp.mjs';
import { stopOnInterrupt } from './lib/processes.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const MODELS = Number(process.env.BENCH_MODELS ?? 5000);
const ADMIN_TOKEN = 'bench-startup-admin-token-0123456789abcdef';
const resultsDir = path.join(root, 'bench', 'results');
const appBin = path.join(root, 'dist', 'bin', 'modelgate-app.js');
/** @type {Set<import('node:child_process').ChildProcess>} the app processes running now, killed on an interrupt */
const live = new Set();

/** @param {string} message */
const log = (message) => process.stderr.write(`[bench:startup] ${message}\n`);

/** @param {number[]} samples */
const summary = (samples) => ({
  median: Math.round(quantile(samples, 0.5) * 10) / 10,
  p95: Math.round(quantile(samples, 0.95) * 10) / 10,
  min: Math.round(Math.min(...samples) * 10) / 10,
  samples: samples.map((s) => Math.round(s * 10) / 10),
});

/** One GET with a fresh connection; resolves with the status, or 0 when the connection failed. */
function status(/** @type {string} */ url, /** @type {Record<string, string>} */ headers = {}) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
  });
}

/** Spawns `args` and resolves with the milliseconds until `url` first answers 200 (polling every 2 ms). */
async function timeToFirst200(
  /** @type {string[]} */ args,
  /** @type {NodeJS.ProcessEnv} */ env,
  /** @type {string} */ url,
) {
  const started = performance.now();
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
  live.add(child);
  let exited = false;
  child.once('exit', () => {
    exited = true;
    live.delete(child);
  });
  for (;;) {
    if (exited) throw new Error(`${args.join(' ')} exited before answering ${url}`);
    if ((await status(url)) === 200) return { ms: performance.now() - started, child };
    if (performance.now() - started > 60_000) throw new Error(`${url} not 200 within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** @param {import('node:child_process').ChildProcess} child */
function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
    child.once('exit', resolve);
    child.kill('SIGKILL');
  });
}

/** Peak resident set size (VmHWM) of a live process, in MiB. */
function peakRssMiB(/** @type {number} */ pid) {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(text)?.[1]);
  return Math.round((kb / 1024) * 10) / 10;
}

function bareNode() {
  const started = performance.now();
  const run = spawnSync(process.execPath, ['-e', '']);
  if (run.status !== 0) throw new Error('node -e "" failed');
  return performance.now() - started;
}

function writeArtifact(/** @type {string} */ file) {
  const { buildArtifact, serializeArtifact } = require(
    path.join(root, 'dist', 'core', 'artifact', 'schema.js'),
  );
  const models = artifactModels(MODELS, {
    fields: (i) => ({
      tags: ['LLM', `family-${i % 17}`],
      owner: `0x${(i * 7919).toString(16).padStart(40, '0')}`,
    }),
  });
  const now = new Date().toISOString();
  const artifact = buildArtifact({
    models,
    source: { url: 'https://models.example.test/active_models.json', etag: '"bench"', lastModified: null },
    fetchedAt: now,
  });
  fs.writeFileSync(file, serializeArtifact(artifact));
  return fs.statSync(file).size;
}

async function main() {
  if (!fs.existsSync(appBin)) throw new Error('dist/ is missing; run npm run build (bench:startup does it)');
  const scratch = tempDir('bench-startup');
  fs.chmodSync(scratch, 0o755);
  const postgres = await startEmbeddedPostgres({ dir: path.join(scratch, 'pg') });
  stopOnInterrupt(async () => {
    for (const child of live) child.kill('SIGKILL');
    await postgres.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  });
  try {
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    await admin.query('CREATE DATABASE bench');
    await admin.end();
    const databaseUrl = postgres.url.replace(/\/postgres$/, '/bench');
    const migrate = spawnSync(
      process.execPath,
      [path.join(root, 'dist', 'bin', 'modelgate-init.js'), 'migrate'],
      {
        env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    if (migrate.status !== 0) throw new Error(`modelgate-init migrate exited ${migrate.status}`);
    const modelsFile = path.join(scratch, 'run', 'models.json');
    fs.mkdirSync(path.dirname(modelsFile));
    const artifactBytes = writeArtifact(modelsFile);
    log(`artifact: ${MODELS} models, ${(artifactBytes / 1024 / 1024).toFixed(2)} MiB; ${RUNS} runs`);

    const samples = {
      node: /** @type {number[]} */ ([]),
      express: /** @type {number[]} */ ([]),
      app: /** @type {number[]} */ ([]),
    };
    const rss = /** @type {number[]} */ ([]);
    let apiKey = '';
    for (let run = 0; run < RUNS; run++) {
      samples.node.push(bareNode());

      const expressPort = await freePort();
      const express = await timeToFirst200(
        ['-e', `require('express')().get('/', (q, r) => r.send('ok')).listen(${expressPort}, '127.0.0.1')`],
        { PATH: process.env.PATH, NODE_PATH: path.join(root, 'node_modules') },
        `http://127.0.0.1:${expressPort}/`,
      );
      samples.express.push(express.ms);
      await stop(express.child);

      const appPort = await freePort();
      const base = `http://127.0.0.1:${appPort}`;
      const app = await timeToFirst200(
        [appBin],
        {
          PATH: process.env.PATH,
          DATABASE_URL: databaseUrl,
          MODELS_FILE: modelsFile,
          HOST: '127.0.0.1',
          PORT: String(appPort),
          ADMIN_TOKEN,
          LOG_LEVEL: 'warn',
        },
        `${base}/readyz`,
      );
      samples.app.push(app.ms);
      if (!apiKey) {
        const res = await fetch(`${base}/api/v1/admin/users`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ name: 'bench' }),
        });
        apiKey = /** @type {{ key: { key: string } }} */ (await res.json()).key.key;
      }
      // Peak memory includes serving the whole 5,000-model list once, not just loading it.
      const listed = await status(`${base}/api/v1/models`, { Authorization: `Bearer ${apiKey}` });
      if (listed !== 200) throw new Error(`GET /api/v1/models answered ${listed}`);
      rss.push(peakRssMiB(/** @type {number} */ (app.child.pid)));
      await stop(app.child);
      log(
        `run ${run + 1}/${RUNS}: node ${samples.node.at(-1)?.toFixed(1)} ms, express ${express.ms.toFixed(1)} ms, app ${app.ms.toFixed(1)} ms, peak RSS ${rss.at(-1)} MiB`,
      );
    }

    const node = summary(samples.node);
    const result = {
      benchmark: 'startup',
      finishedAt: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        model: os.cpus()[0]?.model ?? 'unknown',
        node: process.version,
        loadavg: os.loadavg(),
      },
      runs: RUNS,
      models: MODELS,
      artifactBytes,
      milliseconds: { node, express: summary(samples.express), app: summary(samples.app) },
      appMedianOverNode: Math.round((quantile(samples.app, 0.5) / quantile(samples.node, 0.5)) * 100) / 100,
      expressMedianOverNode:
        Math.round((quantile(samples.express, 0.5) / quantile(samples.node, 0.5)) * 100) / 100,
      peakRssMiB: { median: Math.round(quantile(rss, 0.5) * 10) / 10, max: Math.max(...rss), samples: rss },
      goals: { appMedianOverNode: 2.5, peakRssMiB: 100 },
    };
    fs.mkdirSync(resultsDir, { recursive: true });
    fs.writeFileSync(path.join(resultsDir, 'startup.json'), `${JSON.stringify(result, null, 2)}\n`);
    const ms = result.milliseconds;
    const md = [
      `# Start-up: spawn to first 200 (${RUNS} runs, ${MODELS} models, ${result.machine.cpus} CPUs, Node ${process.version})`,
      '',
      '| Process | median ms | p95 ms | x bare node (median) |',
      '| --- | ---: | ---: | ---: |',
      `| \`node -e ''\` (spawn to exit) | ${ms.node.median} | ${ms.node.p95} | 1.00 |`,
      `| bare express listen (first 200) | ${ms.express.median} | ${ms.express.p95} | ${result.expressMedianOverNode} |`,
      `| modelgate-app (first 200 on /readyz) | ${ms.app.median} | ${ms.app.p95} | ${result.appMedianOverNode} |`,
      '',
      `Peak RSS of modelgate-app after serving the ${MODELS}-model list: median ${result.peakRssMiB.median} MiB, max ${result.peakRssMiB.max} MiB (goal: at most 100 MiB).`,
      `Goal for the app: median at most 2.5x bare node (measured: ${result.appMedianOverNode}x).`,
      '',
    ].join('\n');
    fs.writeFileSync(path.join(resultsDir, 'startup.md'), md);
    process.stdout.write(md);
    log('wrote bench/results/startup.json and bench/results/startup.md');
  } finally {
    await postgres.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

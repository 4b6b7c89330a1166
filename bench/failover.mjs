// @ts-check
// `npm run bench:failover`: what failover costs a client. modelgate-app (the build in dist/, a real PostgreSQL and
// a real modelgate-init) routes four models, each to one fast local upstream in its own way:
//   direct       -> the healthy upstream;
//   connect      -> a port that refuses connections, then the healthy upstream (breaker never opens);
//   status 503   -> an upstream answering 503, then the healthy upstream (breaker never opens);
//   breaker open -> a refusing upstream whose breaker opened (skipped), then the healthy upstream.
// Each is asked by one client one request at a time (latency, timed in process: what one failover adds) and loaded
// with autocannon at 50 connections (requests, failures), plain and streamed, in interleaved rounds. Results: bench/results/failover.json and failover.md.
// BENCH_QUICK=1 runs one 2 s round instead of three 4 s rounds.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { assertBuilt, log, median, quick, resultsDir, round, scratchDir } from './lib/common.mjs';
import { createApiKey, preparePod, startApp } from './lib/app-fixture.mjs';
import { startLoad } from './lib/load.mjs';
import { startModelSource } from './lib/model-source.mjs';
import { startPostgres } from './lib/postgres.mjs';
import { freePort } from '../test/support/ports.mjs';
import { stopAll } from './lib/processes.mjs';

const rounds = quick ? 1 : 3;
const seconds = quick ? 2 : 4;

/** An OpenAI-style upstream that answers at once: a JSON completion, or four SSE chunks. @param {number} status */
function startUpstream(status) {
  const server = http.createServer((req, res) => {
    const chunks = /** @type {Buffer[]} */ ([]);
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (status !== 200) {
        res.writeHead(status, { 'content-type': 'application/json' }).end('{"error":{"message":"down"}}');
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const base = { id: 'chatcmpl-bench', created: 1_745_330_395, model: body.model };
      if (body.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (let i = 0; i < 4; i++)
          res.write(
            `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: `t${i}` }, finish_reason: null }] })}\n\n`,
          );
        res.end('data: [DONE]\n\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          ...base,
          object: 'chat.completion',
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        }),
      );
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const address = /** @type {import('node:net').AddressInfo} */ (server.address());
      resolve({ server, url: `http://127.0.0.1:${address.port}` });
    }),
  );
}

const scenarios = [
  { name: 'direct', model: 'bench-model-0' },
  { name: 'connect refused, then healthy', model: 'bench-model-1' },
  { name: '503, then healthy', model: 'bench-model-2' },
  { name: 'breaker open (skipped), then healthy', model: 'bench-model-3' },
];

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/**
 * One client, one request at a time, timed with the high-resolution clock (autocannon's are whole milliseconds).
 * @param {string} base @param {string} key @param {string} model
 */
async function sequential(base, key, model) {
  const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] });
  const times = [];
  let failures = 0;
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    const started = process.hrtime.bigint();
    const status = await new Promise((resolve, reject) => {
      const req = http.request(`${base}/v1/chat/completions`, {
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', reject);
      req.end(body);
    });
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (status !== 200) failures += 1;
  }
  const sorted = [...times].sort((a, b) => a - b);
  const at = (/** @type {number} */ q) =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return {
    requests: times.length,
    failures,
    rps: times.length / seconds,
    p50: round(at(0.5), 3),
    p99: round(at(0.99), 3),
  };
}

/**
 * @param {string} base @param {string} key @param {string} model @param {boolean} stream @param {number} connections
 */
async function load(base, key, model, stream, connections) {
  const { done } = startLoad({
    url: `${base}/v1/chat/completions`,
    method: 'POST',
    connections,
    duration: seconds,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }] }),
  });
  const result = await done;
  return {
    requests: result.requests.total,
    failures: result.non2xx + result.errors + result.timeouts,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
  };
}

async function main() {
  assertBuilt();
  const pg = await startPostgres();
  const source = await startModelSource({ models: 8, delayMs: 0 });
  /** @type {any[]} */
  const started = [];
  try {
    const healthy = /** @type {any} */ (await startUpstream(200));
    const failing = /** @type {any} */ (await startUpstream(503));
    started.push(healthy, failing);
    const refusing = `http://127.0.0.1:${await freePort()}`;
    const never = '{ failures: 1000, cooldown: 1s }';
    const routing = `
upstreams:
  healthy: { url: "${healthy.url}" }
  refusing: { url: "${refusing}", breaker: ${never} }
  failing: { url: "${failing.url}", breaker: ${never} }
  opened: { url: "${refusing}", breaker: { failures: 3, cooldown: 1h } }
routes:
  - match: { name: bench-model-0 }
    targets: [{ upstream: healthy }]
  - match: { name: bench-model-1 }
    targets: [{ upstream: refusing }, { upstream: healthy, priority: 1 }]
  - match: { name: bench-model-2 }
    targets: [{ upstream: failing }, { upstream: healthy, priority: 1 }]
  - match: { name: bench-model-3 }
    targets: [{ upstream: opened }, { upstream: healthy, priority: 1 }]
`;
    const routingFile = path.join(scratchDir('failover-routing'), 'routing.yaml');
    fs.writeFileSync(routingFile, routing);
    const pod = await preparePod(pg, source.url, 'bench_failover');
    const app = await startApp({ ...pod, env: { ROUTING_FILE: routingFile } });
    const key = await createApiKey(app.base);
    // Open the breaker of `opened` before measuring.
    for (let i = 0; i < 3; i++)
      await (
        await fetch(`${app.base}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'bench-model-3', messages: [{ role: 'user', content: 'hi' }] }),
        })
      ).arrayBuffer();

    // Warm-up: every path compiled before anything is measured.
    for (const scenario of scenarios) await load(app.base, key, scenario.model, false, 10);

    /** @type {Record<string, Record<string, any[]>>} */
    const samples = {};
    const modes = [
      { label: 'plain, 1 connection', stream: false, connections: 1 },
      { label: 'plain, 50 connections', stream: false, connections: 50 },
      { label: 'streamed, 50 connections', stream: true, connections: 50 },
    ];
    for (let r = 0; r < rounds; r++) {
      // Each round starts the scenarios at another one, so none always runs first on a cold or busy moment.
      const order = scenarios.map(
        (_, i) => /** @type {(typeof scenarios)[number]} */ (scenarios[(i + r) % scenarios.length]),
      );
      for (const mode of modes)
        for (const scenario of order) {
          const result =
            mode.connections === 1
              ? await sequential(app.base, key, scenario.model)
              : await load(app.base, key, scenario.model, mode.stream, mode.connections);
          ((samples[mode.label] ??= {})[scenario.name] ??= []).push(result);
          log(`round ${r + 1} ${mode.label} ${scenario.name}: ${JSON.stringify(result)}`);
        }
    }
    const table = modes.flatMap((mode) =>
      scenarios.map((scenario) => {
        const runs = samples[mode.label]?.[scenario.name] ?? [];
        return {
          mode: mode.label,
          scenario: scenario.name,
          requests: runs.reduce((n, run) => n + run.requests, 0),
          failures: runs.reduce((n, run) => n + run.failures, 0),
          rps: round(median(runs.map((run) => run.rps)), 0),
          p50: round(median(runs.map((run) => run.p50)), 3),
          p99: round(median(runs.map((run) => run.p99)), 3),
        };
      }),
    );
    const single = table.filter((row) => row.mode === 'plain, 1 connection');
    const direct = single.find((row) => row.scenario === 'direct');
    const added = single
      .filter((row) => row !== direct)
      .map((row) => ({ scenario: row.scenario, p50AddedMs: round(row.p50 - (direct?.p50 ?? 0), 3) }));
    const report = { node: process.version, rounds, seconds, table, added };
    fs.mkdirSync(resultsDir, { recursive: true });
    fs.writeFileSync(path.join(resultsDir, 'failover.json'), `${JSON.stringify(report, null, 2)}\n`);
    const md = [
      '# Failover cost',
      '',
      `${rounds} interleaved round(s) of ${seconds} s per cell; latency medians over rounds (ms).`,
      '',
      '| mode | scenario | requests | failed | req/s | p50 | p99 |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
      ...table.map(
        (row) =>
          `| ${row.mode} | ${row.scenario} | ${row.requests} | ${row.failures} | ${row.rps} | ${row.p50} | ${row.p99} |`,
      ),
      '',
      `Time one failover adds at 1 connection (p50 over direct): ${added.map((a) => `${a.scenario} ${a.p50AddedMs} ms`).join('; ')}.`,
      '',
    ].join('\n');
    fs.writeFileSync(path.join(resultsDir, 'failover.md'), md);
    process.stdout.write(md);
  } finally {
    await stopAll();
    for (const { server } of started) server.close();
    await source.close();
    await pg.stop();
  }
}

await main();

// @ts-check
// `npm run bench:failover`: what failover costs a client. modelgate-app (the build in dist/, a real PostgreSQL and
// a real modelgate-init) routes four models, each to one fast local upstream in its own way:
//   direct       -> the healthy upstream;
//   connect      -> a port that refuses connections, then the healthy upstream (breaker never opens);
//   status 503   -> an upstream answering 503, then the healthy upstream (breaker never opens);
//   breaker open -> a refusing upstream whose breaker opened (skipped), then the healthy upstream.
// One client asks them in turn, request by request (latency timed in process: what one failover adds, as the median
// of paired differences), then autocannon loads each at 50 connections (requests, failures, failovers by reason),
// plain and streamed, in rounds. Every measurement starts with fresh breakers (a new routing generation).
// Results: bench/results/failover.json and failover.md. BENCH_QUICK=1 runs one short round instead of three.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { assertBuilt, log, median, quick, resultsDir, round, scratchDir } from './lib/common.mjs';
import { createApiKey, preparePod, startApp } from './lib/app-fixture.mjs';
import { startLoad } from './lib/load.mjs';
import { startModelSource } from './lib/model-source.mjs';
import { startPostgres } from './lib/postgres.mjs';
import { freePort } from '../test/support/ports.mjs';
import { stopAll, stopOnInterrupt } from './lib/processes.mjs';
import { reasonCounts } from './report/format.mjs';

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

/** One request, timed with the high-resolution clock (autocannon's are whole milliseconds), in ms. */
async function timed(/** @type {string} */ base, /** @type {string} */ key, /** @type {string} */ model) {
  const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] });
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
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, ok: status === 200 };
}

/**
 * One client, one request at a time, the scenarios alternating request by request (their order rotating), so
 * each failover request has a direct one beside it on the same moment of a shared machine: the time a failover
 * adds is the median of those paired differences. Fewer requests than a breaker's largest threshold (1000), so
 * the failing upstreams' breakers stay closed.
 * @param {string} base @param {string} key @param {number} iterations
 */
async function paired(base, key, iterations) {
  /** @type {Record<string, number[]>} */
  const times = Object.fromEntries(scenarios.map((s) => [s.name, []]));
  /** @type {Record<string, number>} */
  const failures = Object.fromEntries(scenarios.map((s) => [s.name, 0]));
  for (let i = 0; i < iterations; i++)
    for (let k = 0; k < scenarios.length; k++) {
      const scenario = /** @type {(typeof scenarios)[number]} */ (scenarios[(i + k) % scenarios.length]);
      const { ms, ok } = await timed(base, key, scenario.model);
      /** @type {number[]} */ (times[scenario.name]).push(ms);
      if (!ok) failures[scenario.name] = (failures[scenario.name] ?? 0) + 1;
    }
  const quantile = (/** @type {number[]} */ values, /** @type {number} */ q) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  };
  const direct = /** @type {number[]} */ (times.direct);
  return Object.fromEntries(
    scenarios.map((s) => {
      const own = /** @type {number[]} */ (times[s.name]);
      return [
        s.name,
        {
          requests: own.length,
          failures: failures[s.name],
          p50: round(quantile(own, 0.5), 3),
          p99: round(quantile(own, 0.99), 3),
          addedMs: round(
            quantile(
              own.map((ms, i) => ms - /** @type {number} */ (direct[i])),
              0.5,
            ),
            3,
          ),
        },
      ];
    }),
  );
}

/** Failovers the app counted, by reason, from /metrics. @param {string} base */
async function failoverCounts(base) {
  const text = await (await fetch(`${base}/metrics`)).text();
  /** @type {Record<string, number>} */
  const counts = {};
  for (const m of text.matchAll(/^modelgate_upstream_failovers_total\{[^}]*reason="([^"]+)"[^}]*\} (\d+)/gm))
    counts[/** @type {string} */ (m[1])] = (counts[/** @type {string} */ (m[1])] ?? 0) + Number(m[2]);
  return counts;
}

/** @param {Record<string, number>} before @param {Record<string, number>} after */
function countsSince(before, after) {
  return Object.fromEntries(
    Object.entries(after)
      .map(([reason, n]) => [reason, n - (before[reason] ?? 0)])
      .filter(([, n]) => Number(n) > 0),
  );
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
  const loadAtStart = os.loadavg().map((l) => round(l, 2));
  const pg = await startPostgres();
  const source = await startModelSource({ models: 8, delayMs: 0 });
  /** @type {any[]} */
  const started = [];
  stopOnInterrupt(async () => {
    for (const { server } of started) server.close();
    await source.close();
    await pg.stop();
  });
  try {
    const healthy = /** @type {any} */ (await startUpstream(200));
    const failing = /** @type {any} */ (await startUpstream(503));
    started.push(healthy, failing);
    const refusing = `http://127.0.0.1:${await freePort()}`;
    // Each generation names the failing upstreams anew: fresh breakers, closed, for every measurement.
    const routing = (/** @type {number} */ generation) => `
upstreams:
  healthy: { url: "${healthy.url}" }
  refusing-${generation}: { url: "${refusing}", breaker: { failures: 1000, cooldown: 1s } }
  failing-${generation}: { url: "${failing.url}", breaker: { failures: 1000, cooldown: 1s } }
  opened: { url: "${refusing}", breaker: { failures: 3, cooldown: 1h } }
routes:
  - match: { name: bench-model-0 }
    targets: [{ upstream: healthy }]
  - match: { name: bench-model-1 }
    targets: [{ upstream: refusing-${generation} }, { upstream: healthy, priority: 1 }]
  - match: { name: bench-model-2 }
    targets: [{ upstream: failing-${generation} }, { upstream: healthy, priority: 1 }]
  - match: { name: bench-model-3 }
    targets: [{ upstream: opened }, { upstream: healthy, priority: 1 }]
`;
    const routingDir = scratchDir('failover-routing');
    const routingFile = path.join(routingDir, 'routing.yaml');
    let generation = 1;
    fs.writeFileSync(routingFile, routing(generation));
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

    /** Puts a new generation of the routing in force and waits until the app serves it. */
    const freshBreakers = async () => {
      generation += 1;
      fs.writeFileSync(`${routingFile}.tmp`, routing(generation));
      fs.renameSync(`${routingFile}.tmp`, routingFile);
      const until = Date.now() + 30_000;
      for (;;) {
        const status = /** @type {any} */ (await (await fetch(`${app.base}/status`)).json());
        if (status.api.routing.upstreams.some((/** @type {any} */ u) => u.name === `refusing-${generation}`))
          return;
        if (Date.now() > until) throw new Error('the app did not load the new routing file');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };

    const iterations = quick ? 200 : 900;
    /** @type {Record<string, any[]>} */
    const single = {};
    /** @type {Record<string, Record<string, any[]>>} */
    const samples = {};
    const modes = [
      { label: 'plain, 50 connections', stream: false, connections: 50 },
      { label: 'streamed, 50 connections', stream: true, connections: 50 },
    ];
    for (let r = 0; r < rounds; r++) {
      await freshBreakers();
      const result = await paired(app.base, key, iterations);
      for (const [name, cell] of Object.entries(result)) (single[name] ??= []).push(cell);
      log(`round ${r + 1} plain, 1 connection, paired: ${JSON.stringify(result)}`);
      // Each round starts the scenarios at another one, so none always runs first on a cold or busy moment.
      const order = scenarios.map(
        (_, i) => /** @type {(typeof scenarios)[number]} */ (scenarios[(i + r) % scenarios.length]),
      );
      for (const mode of modes)
        for (const scenario of order) {
          await freshBreakers();
          const before = await failoverCounts(app.base);
          const cell = await load(app.base, key, scenario.model, mode.stream, mode.connections);
          const failovers = countsSince(before, await failoverCounts(app.base));
          ((samples[mode.label] ??= {})[scenario.name] ??= []).push({ ...cell, failovers });
          log(`round ${r + 1} ${mode.label} ${scenario.name}: ${JSON.stringify({ ...cell, failovers })}`);
        }
    }
    const sum = (/** @type {Record<string, number>[]} */ all) => {
      /** @type {Record<string, number>} */
      const total = {};
      for (const counts of all)
        for (const [reason, n] of Object.entries(counts)) total[reason] = (total[reason] ?? 0) + n;
      return total;
    };
    const table = [
      ...scenarios.map((scenario) => {
        const runs = single[scenario.name] ?? [];
        return {
          mode: 'plain, 1 connection',
          scenario: scenario.name,
          requests: runs.reduce((n, run) => n + run.requests, 0),
          failures: runs.reduce((n, run) => n + run.failures, 0),
          rps: null,
          p50: round(median(runs.map((run) => run.p50)), 3),
          p99: round(median(runs.map((run) => run.p99)), 3),
          failovers: null,
        };
      }),
      ...modes.flatMap((mode) =>
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
            failovers: sum(runs.map((run) => run.failovers)),
          };
        }),
      ),
    ];
    const added = scenarios
      .filter((scenario) => scenario.name !== 'direct')
      .map((scenario) => {
        const runs = single[scenario.name] ?? [];
        return {
          scenario: scenario.name,
          addedMs: round(median(runs.map((run) => run.addedMs)), 3),
          rounds: runs.map((run) => run.addedMs),
        };
      });
    const report = {
      node: process.version,
      quick,
      cpus: os.cpus().length,
      loadAverage: { start: loadAtStart, end: os.loadavg().map((l) => round(l, 2)) },
      rounds,
      seconds,
      iterations,
      table,
      added,
    };
    fs.mkdirSync(resultsDir, { recursive: true });
    fs.writeFileSync(path.join(resultsDir, 'failover.json'), `${JSON.stringify(report, null, 2)}\n`);
    const md = [
      '# Failover cost',
      '',
      `${rounds} round(s). At 1 connection the four scenarios alternate request by request (${iterations} each per`,
      'round); at 50 connections each cell runs ' +
        `${seconds} s with autocannon. Every cell starts with fresh (closed) breakers; latency medians over rounds (ms).`,
      '',
      '| mode | scenario | requests | failed | req/s | p50 | p99 | failovers by reason |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |',
      ...table.map(
        (row) =>
          `| ${row.mode} | ${row.scenario} | ${row.requests} | ${row.failures} | ${row.rps ?? ''} | ${row.p50} | ${row.p99} | ${reasonCounts(row.failovers)} |`,
      ),
      '',
      `Time one failover adds, the median of paired differences with the direct request beside it: ${added.map((a) => `${a.scenario} ${a.addedMs} ms (rounds: ${a.rounds.join(', ')})`).join('; ')}.`,
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

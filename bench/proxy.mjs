// @ts-check
// `npm run bench:proxy` (node bench/run.mjs proxy): the gateway's main job, forwarding `POST /v1/chat/completions`,
// plain and streamed, beside two floors built into the benchmark (bare node:http and bare express 5 proxies), the
// two peers (LiteLLM, Portkey) and the upstream directly (the ceiling), all in one run against one fast local
// upstream. One process per target. Every target gets the same load (autocannon in this process) in interleaved
// rounds, the order rotated each round, so drift in the machine's load hits every target alike; ratios against the
// bare express proxy are taken round by round. 50 connections, then 1 connection for the added latency. modelgate runs
// with every feature on, and the same build with limits and the usage ledger off beside it (modelgate-no-limits):
// the difference, round by round, is what those two cost per request (issue 17), the database's CPU included.
// BENCH_PROXY_TARGETS (e.g. express,modelgate), BENCH_PROXY_ROUNDS, BENCH_PROXY_SECONDS and
// BENCH_PROXY_CONNECTIONS (e.g. 50 or 50,1) narrow a run while working on one part. BENCH_PROXY_BASELINE=<a copy
// of another build's dist/> adds that build as target modelgate-baseline, in the same rounds: a change measured
// against the build before it, round by round (the report leaves it out; the result keeps its rounds). The result keeps every round;
// the report (bench/report/reduce.mjs) takes the medians, the ratios to the bare express proxy and the goals.
import fs from 'node:fs';
import { log, quantile, quick, round, scratchDir, sleep } from './lib/common.mjs';
import { startLoad } from './lib/load.mjs';
import { treeCpuSeconds } from './lib/processes.mjs';
import { describeFeatures } from './lib/proxy-features.mjs';
import { reduceProxy } from './report/reduce.mjs';
import {
  MODEL,
  TARGET_NAMES,
  probe,
  requestBody,
  startTargets,
  startUpstream,
} from './lib/proxy-targets.mjs';

/** @typedef {import('./lib/proxy-targets.mjs').Target} Target */
/** @typedef {'plain' | 'stream'} Mode */
const MODES = /** @type {Mode[]} */ (['plain', 'stream']);

const list = (/** @type {string | undefined} */ value) => value?.split(',').map((v) => v.trim());
const SELECTED = /** @type {import('./lib/proxy-targets.mjs').TargetName[]} */ ([
  ...(list(process.env.BENCH_PROXY_TARGETS) ?? TARGET_NAMES).filter((name) =>
    TARGET_NAMES.includes(/** @type {any} */ (name)),
  ),
  ...(process.env.BENCH_PROXY_BASELINE ? ['modelgate-baseline'] : []),
]);
const CONNECTIONS = (list(process.env.BENCH_PROXY_CONNECTIONS) ?? ['50', '1']).map(Number);
/** Rounds and seconds per run, by connection count: the 1-connection runs only need a stable median. */
const ROUNDS = Number(process.env.BENCH_PROXY_ROUNDS ?? (quick ? 1 : 5));
const SECONDS = Number(process.env.BENCH_PROXY_SECONDS ?? (quick ? 2 : 5));
const WARMUP_SECONDS = quick ? 1 : 2;
const roundsFor = (/** @type {number} */ connections) =>
  connections === 1 ? Math.max(1, Math.ceil(ROUNDS / 2) + 1) : ROUNDS;
const secondsFor = (/** @type {number} */ connections) =>
  connections === 1 ? Math.max(1, Math.round(SECONDS * 0.6)) : SECONDS;

/**
 * One load run against one target; latencies of 2xx answers are recorded to the microsecond (autocannon's own
 * histogram counts whole milliseconds, too coarse for a 0.5 ms goal). `databasePid`: PostgreSQL's postmaster, whose
 * CPU over the run (every backend's) is counted per request too: only modelgate uses it, one target at a time.
 * @param {Target} target @param {Mode} mode @param {number} connections @param {number} seconds
 * @param {number | undefined} databasePid
 */
async function measure(target, mode, connections, seconds, databasePid) {
  /** @type {number[]} */
  const latencies = [];
  const databaseCpu = () => (databasePid === undefined ? 0 : treeCpuSeconds(databasePid));
  const databaseBefore = databaseCpu();
  const cpuBefore = treeCpuSeconds(target.pid);
  const harnessBefore = process.cpuUsage();
  const { instance, done } = startLoad({
    url: target.url,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...target.headers },
    body: requestBody(mode),
    connections,
    duration: seconds,
    timeout: 30,
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
  });
  const result = await done;
  const harness = process.cpuUsage(harnessBefore);
  // What a request leaves to do after its answer (the usage ledger's next batch, limit permits given back when
  // idle) is counted with it: the CPU is read once that has run.
  if (target.settleMs) await sleep(target.settleMs);
  const cpu = treeCpuSeconds(target.pid) - cpuBefore;
  const database = databaseCpu() - databaseBefore;
  latencies.sort((a, b) => a - b);
  const requests = result.requests.total;
  const ok = latencies.length;
  return {
    requestsPerSecond: round(ok / result.duration, 1),
    latencyMs: {
      p50: round(quantile(latencies, 0.5), 3),
      p90: round(quantile(latencies, 0.9), 3),
      p99: round(quantile(latencies, 0.99), 3),
      max: round(latencies.at(-1) ?? NaN, 3),
    },
    requests,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds: round(result.duration, 2),
    /** CPU the target's processes used per answered request (its share of the machine's work). */
    cpuMicrosPerRequest: ok ? Math.round((cpu * 1e6) / ok) : null,
    targetCpuSeconds: round(cpu, 2),
    /**
     * PostgreSQL's CPU per answered request over the same time (limits, the usage ledger; idle work for others);
     * null when a backend exited meanwhile (its CPU time left the sum: the reading came out below zero).
     */
    databaseCpuMicrosPerRequest:
      ok && databasePid !== undefined && database >= 0 ? Math.round((database * 1e6) / ok) : null,
    loadGeneratorCpuSeconds: round((harness.user + harness.system) / 1e6, 2),
  };
}

/** Rotates `items` by `by` places: each round starts with another target. @template T @param {T[]} items */
const rotate = (items, /** @type {number} */ by) =>
  items.map((_, i) => /** @type {T} */ (items[(i + by) % items.length]));

/**
 * @param {{ pg: import('./lib/postgres.mjs').BenchPostgres, source: { url: string } }} context
 */
export async function runProxy(context) {
  const dir = scratchDir('proxy');
  const upstream = await startUpstream(dir);
  /** @type {Target[]} */
  let targets = [];
  try {
    const { started, failed } = await startTargets(SELECTED, {
      ...context,
      upstreamBase: upstream.base,
      dir,
    });
    targets = [...(SELECTED.includes('upstream') ? [upstream.target] : []), ...started];

    /** Targets whose check failed in a mode are reported with the error and not loaded in that mode. */
    /** @type {Record<string, Record<Mode, Awaited<ReturnType<typeof probe>>>>} */
    const probes = {};
    for (const target of targets) {
      probes[target.name] = { plain: await probe(target, 'plain'), stream: await probe(target, 'stream') };
      for (const mode of MODES) {
        const p = probes[target.name]?.[mode];
        if (p && !p.ok) log(`${target.name} ${mode}: the check failed: ${p.error?.split('\n')[0]}`);
      }
    }
    const runnable = (/** @type {Mode} */ mode) => targets.filter((t) => probes[t.name]?.[mode].ok);

    /** @type {any[]} */
    const runs = [];
    for (const connections of CONNECTIONS) {
      const rounds = roundsFor(connections);
      const seconds = secondsFor(connections);
      log(`${connections} connection(s): warm-up, then ${rounds} rounds of ${seconds} s per target and mode`);
      for (const mode of MODES)
        for (const target of runnable(mode))
          await measure(target, mode, connections, WARMUP_SECONDS, context.pg.pid);
      for (let r = 0; r < rounds; r++) {
        for (const mode of MODES) {
          for (const target of rotate(runnable(mode), r)) {
            const m = await measure(target, mode, connections, seconds, context.pg.pid);
            runs.push({ target: target.name, mode, connections, round: r + 1, ...m });
            log(
              `c=${connections} round ${r + 1} ${mode} ${target.name}: ${m.requestsPerSecond} req/s, p50 ${m.latencyMs.p50} ms, p99 ${m.latencyMs.p99} ms, ${m.cpuMicrosPerRequest} CPU-µs/req, database ${m.databaseCpuMicrosPerRequest} CPU-µs/req${m.errors + m.non2xx + m.timeouts ? `, errors ${m.errors} non-2xx ${m.non2xx} timeouts ${m.timeouts}` : ''}`,
            );
            await sleep(200);
          }
        }
      }
    }

    const result = {
      settings: {
        connections: CONNECTIONS,
        rounds: Object.fromEntries(CONNECTIONS.map((c) => [c, roundsFor(c)])),
        secondsPerRun: Object.fromEntries(CONNECTIONS.map((c) => [c, secondsFor(c)])),
        warmupSeconds: WARMUP_SECONDS,
        model: MODEL,
        requestBytes: { plain: requestBody('plain').length, stream: requestBody('stream').length },
        upstreamChunks: Number(process.env.UPSTREAM_CHUNKS ?? 8),
        loadGenerator: 'autocannon in the harness process (same cores as every target)',
      },
      features: describeFeatures('all'),
      featuresWithoutLimits: describeFeatures('no-limits'),
      targets: [
        ...targets.map((t) => ({
          name: t.name,
          label: t.label,
          notes: t.notes,
          probes: probes[t.name],
          errorLines: errorLines(t.output()),
        })),
        ...failed.map((f) => ({ name: f.name, label: f.label, notes: f.notes, failed: f.error })),
      ],
      runs,
    };
    logGoals(result);
    return result;
  } finally {
    for (const target of targets) if (target !== upstream.target) await target.stop();
    await upstream.target.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * modelgate against the bare express proxy and the upstream, as the report will judge it, and what limits and the
 * usage ledger cost it. @param {any} result
 */
function logGoals(result) {
  const { goals, limitsCost } = reduceProxy(result);
  for (const mode of MODES) {
    const g = goals[mode];
    log(
      `modelgate ${mode}: ${g.throughputOfExpress ?? 'n/a'} of the bare express proxy's req/s, p99 ${g.p99OfExpress ?? 'n/a'}x its p99, p50 +${g.addedP50AtOneConnectionMs ?? 'n/a'} ms over the upstream at 1 connection`,
    );
  }
  for (const row of limitsCost ?? [])
    for (const mode of MODES) {
      const c = row[mode];
      if (c)
        log(
          `limits + usage ledger, ${mode} at ${row.connections} connection(s): p50 +${c.p50AddedMs} ms, +${c.cpuAddedMicros} CPU-µs/req in the app, +${c.databaseCpuAddedMicros} in PostgreSQL, req/s x${c.throughput}`,
        );
    }
}

/**
 * Warning and error lines a target printed, the last 20: JSON log lines at warn and above, and other lines that
 * mention an error (Node.js and Python tracebacks), each with the stack frame that follows it.
 * @param {string} output
 */
function errorLines(output) {
  const lines = output.split('\n');
  /** @type {string[]} */
  const found = [];
  lines.forEach((line, i) => {
    const json = line.startsWith('{');
    const bad = json ? /"level":"(warn|error|fatal)"/.test(line) : /error|exception|traceback/i.test(line);
    if (!bad) return;
    const next = lines[i + 1]?.trim() ?? '';
    found.push(`${line.trim()}${!json && next.startsWith('at ') ? ` ${next}` : ''}`.slice(0, 500));
  });
  return [...new Set(found)].slice(-20);
}

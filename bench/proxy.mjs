// @ts-check
// `npm run bench:proxy` (node bench/run.mjs proxy): the gateway's main job, forwarding `POST /v1/chat/completions`,
// plain and streamed, beside two floors built into the benchmark (bare node:http and bare express 5 proxies), the
// two peers (LiteLLM, Portkey) and the upstream directly (the ceiling), all in one run against one fast local
// upstream. One process per target. Every target gets the same load (autocannon in this process) in interleaved
// rounds, the order rotated each round, so drift of the shared machine hits every target alike; ratios against the
// bare express proxy are taken round by round. 50 connections, then 1 connection for the added latency.
// BENCH_PROXY_TARGETS (e.g. express,modelgate), BENCH_PROXY_ROUNDS, BENCH_PROXY_SECONDS and
// BENCH_PROXY_CONNECTIONS (e.g. 50 or 50,1) narrow a run while working on one part.
import fs from 'node:fs';
import { log, median, quantile, quick, round, scratchDir, sleep } from './lib/common.mjs';
import { startLoad } from './lib/load.mjs';
import { treeCpuSeconds } from './lib/processes.mjs';
import { describeFeatures } from './lib/proxy-features.mjs';
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
const SELECTED = /** @type {import('./lib/proxy-targets.mjs').TargetName[]} */ (
  list(process.env.BENCH_PROXY_TARGETS) ?? TARGET_NAMES
).filter((name) => TARGET_NAMES.includes(/** @type {any} */ (name)));
const CONNECTIONS = (list(process.env.BENCH_PROXY_CONNECTIONS) ?? ['50', '1']).map(Number);
/** Rounds and seconds per run, by connection count: the 1-connection runs only need a stable median. */
const ROUNDS = Number(process.env.BENCH_PROXY_ROUNDS ?? (quick ? 1 : 5));
const SECONDS = Number(process.env.BENCH_PROXY_SECONDS ?? (quick ? 2 : 5));
const WARMUP_SECONDS = quick ? 1 : 2;
const roundsFor = (/** @type {number} */ connections) =>
  connections === 1 ? Math.max(1, Math.ceil(ROUNDS / 2) + 1) : ROUNDS;
const secondsFor = (/** @type {number} */ connections) =>
  connections === 1 ? Math.max(1, Math.round(SECONDS * 0.6)) : SECONDS;

/** The goals of issue 18, against the bare express proxy of the same run (modelgate with every feature on). */
export const GOALS = {
  throughputOfExpress: 0.75,
  p99OfExpress: 1.5,
  addedP50AtOneConnectionMs: 0.5,
};

/**
 * One load run against one target; latencies of 2xx answers are recorded to the microsecond (autocannon's own
 * histogram counts whole milliseconds, too coarse for a 0.5 ms goal).
 * @param {Target} target @param {Mode} mode @param {number} connections @param {number} seconds
 */
async function measure(target, mode, connections, seconds) {
  /** @type {number[]} */
  const latencies = [];
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
  const cpu = treeCpuSeconds(target.pid) - cpuBefore;
  const harness = process.cpuUsage(harnessBefore);
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
    loadGeneratorCpuSeconds: round((harness.user + harness.system) / 1e6, 2),
  };
}

/** @param {any[]} rounds one target's rounds of one mode and connection count */
function combine(rounds) {
  const pick = (/** @type {(r: any) => number | null} */ f) =>
    /** @type {number[]} */ (rounds.map(f).filter((v) => v !== null && Number.isFinite(v)));
  const med = (/** @type {(r: any) => number | null} */ f) => {
    const values = pick(f);
    return values.length ? round(median(values), 3) : null;
  };
  return {
    requestsPerSecond: med((r) => r.requestsPerSecond),
    latencyMs: {
      p50: med((r) => r.latencyMs.p50),
      p90: med((r) => r.latencyMs.p90),
      p99: med((r) => r.latencyMs.p99),
    },
    cpuMicrosPerRequest: med((r) => r.cpuMicrosPerRequest),
    requests: rounds.reduce((sum, r) => sum + r.requests, 0),
    non2xx: rounds.reduce((sum, r) => sum + r.non2xx, 0),
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
    timeouts: rounds.reduce((sum, r) => sum + r.timeouts, 0),
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
        for (const target of runnable(mode)) await measure(target, mode, connections, WARMUP_SECONDS);
      for (let r = 0; r < rounds; r++) {
        for (const mode of MODES) {
          for (const target of rotate(runnable(mode), r)) {
            const m = await measure(target, mode, connections, seconds);
            runs.push({ target: target.name, mode, connections, round: r + 1, ...m });
            log(
              `c=${connections} round ${r + 1} ${mode} ${target.name}: ${m.requestsPerSecond} req/s, p50 ${m.latencyMs.p50} ms, p99 ${m.latencyMs.p99} ms, ${m.cpuMicrosPerRequest} CPU-µs/req${m.errors + m.non2xx + m.timeouts ? `, errors ${m.errors} non-2xx ${m.non2xx} timeouts ${m.timeouts}` : ''}`,
            );
            await sleep(200);
          }
        }
      }
    }

    const summaries = [];
    for (const connections of CONNECTIONS)
      for (const mode of MODES)
        for (const target of targets) {
          const mine = runs.filter(
            (x) => x.target === target.name && x.mode === mode && x.connections === connections,
          );
          const check = probes[target.name]?.[mode];
          summaries.push({
            target: target.name,
            mode,
            connections,
            ...(check?.ok ? combine(mine) : { failed: check?.error ?? 'not run' }),
            ...ratiosToExpress(runs, target.name, mode, connections),
          });
        }

    return {
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
      features: describeFeatures(),
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
      summaries,
      goals: goals(summaries),
      runs,
    };
  } finally {
    for (const target of targets) if (target !== upstream.target) await target.stop();
    await upstream.target.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Per round, this target's req/s and p99 against the bare express proxy's in the same round (same mode and
 * connections); the medians of those ratios.
 * @param {any[]} runs @param {string} name @param {Mode} mode @param {number} connections
 */
function ratiosToExpress(runs, name, mode, connections) {
  const at = (/** @type {string} */ target) =>
    runs.filter((x) => x.target === target && x.mode === mode && x.connections === connections);
  const mine = at(name);
  const express = at('express');
  const pairs = mine
    .map((m) => ({ m, e: express.find((e) => e.round === m.round) }))
    .filter((p) => p.e && p.e.requestsPerSecond > 0);
  if (pairs.length === 0) return {};
  return {
    throughputOfExpress: round(median(pairs.map((p) => p.m.requestsPerSecond / p.e.requestsPerSecond)), 3),
    p99OfExpress: round(median(pairs.map((p) => p.m.latencyMs.p99 / p.e.latencyMs.p99)), 3),
  };
}

/** @param {any[]} summaries */
function goals(summaries) {
  const find = (/** @type {string} */ target, /** @type {Mode} */ mode, /** @type {number} */ connections) =>
    summaries.find((s) => s.target === target && s.mode === mode && s.connections === connections);
  return MODES.map((mode) => {
    const mg = find('modelgate', mode, 50);
    const one = find('modelgate', mode, 1);
    const up = find('upstream', mode, 1);
    const added = one?.latencyMs && up?.latencyMs ? round(one.latencyMs.p50 - up.latencyMs.p50, 3) : null;
    return {
      mode,
      throughputOfExpress: mg?.throughputOfExpress ?? null,
      throughputMet:
        mg?.throughputOfExpress !== undefined ? mg.throughputOfExpress >= GOALS.throughputOfExpress : null,
      p99OfExpress: mg?.p99OfExpress ?? null,
      p99Met: mg?.p99OfExpress !== undefined ? mg.p99OfExpress <= GOALS.p99OfExpress : null,
      addedP50AtOneConnectionMs: added,
      addedP50Met: added === null ? null : added <= GOALS.addedP50AtOneConnectionMs,
    };
  });
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

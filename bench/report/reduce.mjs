// @ts-check
// The first half of the report: bench/results/*.json reduced to figures (medians, ratios, goals met, findings),
// with no prose. bench/report/page.mjs and headline.mjs word them; nothing here knows about markdown, nothing there computes.
import fs from 'node:fs';
import path from 'node:path';
import { median, round } from '../lib/common.mjs';
import { leastSquares } from '../lib/stats.mjs';

/** The result files the report reads; `machine` is written by bench/run.mjs (bench/lib/machine.mjs). */
export const RESULT_NAMES = [
  'storm',
  'warm',
  'outage',
  'reload',
  'sigterm',
  'soak',
  'startup',
  'api',
  'proxy',
  'failover',
  'rewrite',
  'limiter',
  'machine',
  // written by the e2e suite (test/e2e/harness/figures.ts), not by bench/run.mjs: real-node figures
  'e2e-node',
];
export const DESIGNS = ['modelgate', 'naive', 'pid-mod-4', 'floor'];

/** The storm's goal for the all-ready time at the largest N over the smallest; also the outage's tolerance. */
export const RATIO_GOAL = 1.5;
/** modelgate's all-ready time at the largest N over the floor design's in the same run (issue 18). */
export const FLOOR_GOAL = 2;

/**
 * Every results file present in dir, parsed; absent ones are undefined.
 * @param {string} dir
 * @returns {Record<string, any>}
 */
export function readResults(dir) {
  return Object.fromEntries(
    RESULT_NAMES.map((name) => {
      const file = path.join(dir, `${name}.json`);
      return [name, fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : undefined];
    }),
  );
}

/** @param {any[]} runs @param {(r: any) => number | null} pick the median, or null unless every run has a value */
function medianOf(runs, pick) {
  const values = /** @type {number[]} */ (runs.map(pick).filter((v) => v !== null)).sort((a, b) => a - b);
  if (values.length !== runs.length || values.length === 0) return null;
  return median(values);
}

/** A benchmark that ended this shortly before bench/run.mjs started was part of the same `npm run bench`. */
const OWN_LOAD_WINDOW_MS = 60_000;

/**
 * What the machine was and how busy: from machine.json (bench/lib/machine.mjs records it at the start and the end).
 * @param {any} machine @param {Record<string, any>} results
 */
export function reduceMachine(machine, results) {
  if (!machine) return undefined;
  const { start, end } = machine;
  const reruns = Object.entries(results)
    .filter(
      ([name, r]) => name !== 'machine' && r?.conditions && r.conditions.start.at > (machine.end?.at ?? ''),
    )
    .map(([name, r]) => ({
      name,
      from: r.conditions.start.at.slice(11, 16),
      to: r.conditions.end.at.slice(11, 16),
      loadFrom: r.conditions.start.loadAverage[0],
      loadTo: r.conditions.end.loadAverage[0],
      commit:
        r.conditions.build?.commit !== machine.build?.commit ? String(r.conditions.build?.commit) : undefined,
    }));
  // `npm run bench` runs the start-up, API, failover, rewrite and limiter benchmarks before bench/run.mjs, which
  // reads the load at its start: one of them ending just before is the run's own load, not other work.
  const startedAt = Date.parse(start.at);
  const justBefore = Object.entries(results)
    .filter(([name, r]) => name !== 'machine' && typeof r?.finishedAt === 'string')
    .map(([name, r]) => ({ name, gapMs: startedAt - Date.parse(r.finishedAt) }))
    .filter(({ gapMs }) => gapMs >= 0 && gapMs <= OWN_LOAD_WINDOW_MS)
    .map(({ name }) => name);
  return {
    cpus: start.cpus,
    cpuModel: start.cpuModel,
    memoryGiB: start.memoryGiB,
    kernel: start.kernel,
    node: start.node,
    postgres: machine.postgres,
    loadStart: start.loadAverage,
    loadEnd: end?.loadAverage,
    processes: start.processes,
    /** Busy at the start: a 1-minute load average of a quarter of the cores or more (other work, or afterOwnBenchmarks). */
    shared: start.loadAverage[0] >= start.cpus / 4,
    /** The benchmarks of the same run that ended within a minute before it started (their load is in loadStart). */
    afterOwnBenchmarks: justBefore,
    from: start.at,
    to: end?.at,
    commit: machine.build?.commit,
    uncommittedChanges: Boolean(machine.build?.uncommittedChanges),
    reruns,
  };
}

/** @param {any} storm */
export function reduceStorm(storm) {
  const sizes = storm.settings.sizes;
  const largest = Math.max(...sizes);
  const smallest = Math.min(...sizes);
  /** @param {string} design @param {number} n */
  const runs = (design, n) => storm.runs.filter((/** @type {any} */ r) => r.design === design && r.n === n);
  /** @param {string} design @param {number} n */
  const allReady = (design, n) => medianOf(runs(design, n), (r) => (r.allReady ? r.allReadyMs : null));
  /** @param {string} design */
  const ratioOf = (design) => {
    const big = allReady(design, largest);
    const small = allReady(design, smallest);
    return big !== null && small ? big / small : null;
  };
  const mg = storm.runs.filter((/** @type {any} */ r) => r.design === 'modelgate');
  const ratio = ratioOf('modelgate');
  const designs = Object.fromEntries(
    DESIGNS.map((design) => [
      design,
      {
        first: runs(design, largest)[0],
        allReadyAtLargest: allReady(design, largest),
        allReadyAtSmallest: allReady(design, smallest),
        ratio: ratioOf(design),
      },
    ]),
  );
  const mgLargest = designs.modelgate?.allReadyAtLargest ?? null;
  const floorLargest = designs.floor?.allReadyAtLargest;
  const overFloor = mgLargest !== null && floorLargest ? mgLargest / floorLargest : null;
  const rows = sizes.flatMap((/** @type {number} */ n) =>
    DESIGNS.flatMap((design) => runs(design, n).map((/** @type {any} */ run) => ({ n, design, run }))),
  );
  const errors = [
    ...new Set(
      storm.runs.flatMap((/** @type {any} */ r) =>
        (r.errors ?? r.initErrors ?? []).map((/** @type {string} */ e) => `${r.design}: ${e}`),
      ),
    ),
  ].slice(0, 12);
  return {
    settings: storm.settings,
    sizes,
    largest,
    smallest,
    designs,
    rows,
    ratio,
    overFloor,
    goals: {
      oneSourceRequest: mg.every((/** @type {any} */ r) => r.sourceRequests === 1),
      noFailures: mg.every((/** @type {any} */ r) => r.failures === 0),
      exactlyOnce: mg.every(
        (/** @type {any} */ r) => r.database.rows === r.database.migrationFiles && r.database.complete,
      ),
      ratio: ratio === null ? null : ratio <= RATIO_GOAL,
      overFloor: overFloor === null ? null : overFloor <= FLOOR_GOAL,
    },
    modelgateAtLargest: modelgateTime(runs('modelgate', largest), allReady('modelgate', largest)),
    perPod: DESIGNS.map((design) => {
      const r = runs(design, largest)[0];
      return r && typeof r.cpuSeconds === 'number'
        ? { design, cpu: r.cpuSeconds / r.n, kinds: r.cpuSecondsPerPod }
        : undefined;
    }).filter((x) => x !== undefined),
    machineCpuPerPod: Object.fromEntries(
      ['modelgate', 'floor'].map((design) => [
        design,
        (runs(design, largest)[0]?.machineCpuSeconds ?? 0) / largest,
      ]),
    ),
    migratedTwice: storm.runs.filter((/** @type {any} */ r) => r.database.rows > r.database.migrationFiles),
    errors,
  };
}

/**
 * Where modelgate's time went at the largest N: the CPU floor and init's own steps.
 * @param {any[]} runs @param {number | null} ready
 */
function modelgateTime(runs, ready) {
  const floors = runs.map((r) => r.cpuFloorMs).filter((v) => typeof v === 'number');
  if (ready === null || floors.length === 0) return undefined;
  const steps = runs[0]?.initStepSecondsMedian ?? {};
  return {
    runs: runs.length,
    readyMs: ready,
    cpuFloorMs: median(floors),
    steps,
    betweenSteps: (steps.total ?? 0) - (steps.waitDb ?? 0) - (steps.migrate ?? 0) - (steps.models ?? 0),
  };
}

/** @param {any} outage */
export function reduceOutage(outage) {
  const healthy = outage.scenarios.find((/** @type {any} */ x) => x.sourceMode === 'up');
  const scenarios = outage.scenarios.map((/** @type {any} */ x) => {
    const gaps = x.readyMs
      .slice(1)
      .map((/** @type {number} */ ms, /** @type {number} */ i) => ms - x.readyMs[i]);
    return {
      ...x,
      vsHealthy: healthy?.allReadyMs && x.allReady ? x.allReadyMs / healthy.allReadyMs : null,
      sameTimeAsHealthy: Boolean(
        x.allReady && healthy?.allReadyMs && x.allReadyMs <= RATIO_GOAL * healthy.allReadyMs,
      ),
      /** Pods that became ready one after another, far apart: the median gap, when it is 15 s or more. */
      serialGapMs:
        x.sourceMode !== 'up' && x.allReady && x.readyMs.length >= 2 && median(gaps) >= 15_000
          ? median(gaps)
          : null,
    };
  });
  const failing = scenarios.filter((/** @type {any} */ x) => x.sourceMode !== 'up');
  return {
    pods: outage.pods,
    cacheAgeHours: outage.cacheAgeSeconds / 3600,
    healthy: scenarios.find((/** @type {any} */ x) => x.sourceMode === 'up'),
    scenarios,
    failing,
    allReady: failing.every((/** @type {any} */ x) => x.allReady),
  };
}

/** @param {any} soak */
export function reduceSoak(soak) {
  const r = soak.rss;
  const fitted = soak.samples.filter((/** @type {any} */ x) => x.t >= soak.warmupSeconds);
  const middle = fitted[Math.floor(fitted.length / 2)]?.t ?? 0;
  const half = (/** @type {any[]} */ part) =>
    round(
      leastSquares(
        part.map((x) => x.t),
        part.map((x) => x.rssMiB),
      ).slope * 60,
      3,
    );
  const ciHasZero = r.slopeCi95MiBPerMinute[0] <= 0 && r.slopeCi95MiBPerMinute[1] >= 0;
  // A slope below 0 beyond its interval is RSS given back, not growth: the goal is about growth.
  const shrank = r.slopeCi95MiBPerMinute[1] < 0;
  const withinNoise = Math.abs(r.fittedGrowthMiB) <= 2 * r.residualStdMiB;
  const heap = soak.heapUsed;
  return {
    ...soak,
    firstHalf: half(fitted.filter((/** @type {any} */ x) => x.t < middle)),
    secondHalf: half(fitted.filter((/** @type {any} */ x) => x.t >= middle)),
    ciHasZero,
    shrank,
    withinNoise,
    noGrowth: ciHasZero || shrank || withinNoise,
    heap: heap
      ? {
          ...heap,
          flat: heap.slopeCi95MiBPerMinute[0] <= 0 && heap.slopeCi95MiBPerMinute[1] >= 0,
          shrank: heap.slopeCi95MiBPerMinute[1] < 0,
        }
      : undefined,
  };
}

/** @param {any} startup bench/startup.mjs's result */
export function reduceStartup(startup) {
  return {
    ...startup,
    goalRatio: startup.goals?.appMedianOverNode ?? 2.5,
    goalRssMiB: startup.goals?.peakRssMiB ?? 100,
    ratioMet: startup.appMedianOverNode <= (startup.goals?.appMedianOverNode ?? 2.5),
    rssMet: startup.peakRssMiB ? startup.peakRssMiB.max <= (startup.goals?.peakRssMiB ?? 100) : null,
  };
}

/** @param {any} api bench/api.mjs's result: scenarios bare /hello, authenticated /models, chat storage, in that order */
export function reduceApi(api) {
  const [hello, models, chatStorage] = api.scenarios;
  return {
    ...api,
    hello,
    models,
    chatStorage,
    ratioMet: api.modelsVsBareExpress >= 0.7,
    p99Met: models.latencyMs.p99 < 25,
  };
}

/** The proxy benchmark's goals (issue 18), against the bare express proxy of the same run, every feature on. */
export const PROXY_GOALS = {
  /** modelgate's requests/s at 50 connections over the bare express proxy's, at least */
  throughputOfExpress: 0.75,
  /** its p99 at 50 connections over the bare express proxy's, at most */
  p99OfExpress: 1.5,
  /** its p50 at 1 connection minus the upstream's directly, in ms, at most */
  addedP50AtOneConnectionMs: 0.5,
};
export const PROXY_MODES = /** @type {const} */ (['plain', 'stream']);
/**
 * The targets in the order the report lists them: the ceiling, the floors, modelgate (with every feature on, then the
 * same build with limits and the usage ledger off, and another build when BENCH_PROXY_BASELINE named one), the peers.
 */
export const PROXY_TARGETS = [
  'upstream',
  'node-http',
  'express',
  'modelgate',
  'modelgate-no-limits',
  'modelgate-baseline',
  'litellm',
  'portkey',
];
export const PROXY_PEERS = ['litellm', 'portkey'];

/**
 * One target's rounds of one mode and connection count: medians over the rounds, error counts summed.
 * @param {any[]} rounds
 */
function combineRounds(rounds) {
  const med = (/** @type {(r: any) => number | null | undefined} */ pick) => {
    const values = /** @type {number[]} */ (
      rounds.map(pick).filter((v) => typeof v === 'number' && Number.isFinite(v))
    );
    return values.length ? round(median(values), 3) : null;
  };
  const sum = (/** @type {(r: any) => number} */ pick) => rounds.reduce((total, r) => total + pick(r), 0);
  return {
    rounds: rounds.length,
    requestsPerSecond: med((r) => r.requestsPerSecond),
    latencyMs: {
      p50: med((r) => r.latencyMs.p50),
      p90: med((r) => r.latencyMs.p90),
      p99: med((r) => r.latencyMs.p99),
    },
    cpuMicrosPerRequest: med((r) => r.cpuMicrosPerRequest),
    databaseCpuMicrosPerRequest: med((r) => r.databaseCpuMicrosPerRequest),
    requests: sum((r) => r.requests),
    /** Failed answers: connection errors, non-2xx and timeouts. */
    errors: sum((r) => r.errors + r.non2xx + r.timeouts),
  };
}

/**
 * Per round, a target's req/s and p99 over the bare express proxy's in the same round (same mode and
 * connections), and the medians of those ratios: the machine's drift reaches both alike within a round.
 * @param {any[]} mine @param {any[]} express
 */
function ratiosToExpress(mine, express) {
  const pairs = mine
    .map((m) => ({ m, e: express.find((e) => e.round === m.round) }))
    .filter((p) => p.e && p.e.requestsPerSecond > 0 && p.e.latencyMs.p99 > 0);
  const med = (/** @type {number[]} */ values) => round(median(values), 3);
  if (pairs.length === 0) return { throughputOfExpress: null, p99OfExpress: null };
  return {
    throughputOfExpress: med(pairs.map((p) => p.m.requestsPerSecond / p.e.requestsPerSecond)),
    p99OfExpress: med(pairs.map((p) => p.m.latencyMs.p99 / p.e.latencyMs.p99)),
  };
}

/**
 * The proxy benchmark (bench/proxy.mjs): per target, mode and connection count the medians over the rounds and the
 * per-round ratios to the bare express proxy; modelgate's goals; what failed and what the peers printed.
 * @param {any} proxy
 */
export function reduceProxy(proxy) {
  const connections = /** @type {number[]} */ (proxy.settings.connections);
  const known = proxy.targets.filter((/** @type {any} */ t) => PROXY_TARGETS.includes(t.name));
  const targets = PROXY_TARGETS.map((name) => known.find((/** @type {any} */ t) => t.name === name))
    .filter(Boolean)
    .map((/** @type {any} */ t) => {
      /** @type {Record<string, Record<number, any>>} */
      const byMode = {};
      for (const mode of PROXY_MODES) {
        byMode[mode] = {};
        for (const c of connections) {
          const runs = proxy.runs.filter(
            (/** @type {any} */ r) => r.target === t.name && r.mode === mode && r.connections === c,
          );
          const express = proxy.runs.filter(
            (/** @type {any} */ r) => r.target === 'express' && r.mode === mode && r.connections === c,
          );
          const check = t.probes?.[mode];
          // A target that did not start, or whose check failed in this mode, was not loaded: `failed`, no figures.
          byMode[mode][c] =
            t.failed || !check?.ok
              ? { failed: true }
              : runs.length === 0
                ? undefined
                : { failed: false, ...combineRounds(runs), ...ratiosToExpress(runs, express) };
        }
      }
      return {
        name: t.name,
        label: t.label,
        notes: t.notes ?? [],
        peer: PROXY_PEERS.includes(t.name),
        /** Why it did not start (install or start-up), when it did not. */
        failedToStart: t.failed ? String(t.failed).split('\n')[0] : undefined,
        /** The modes whose check failed, with the error. */
        failedChecks: t.failed
          ? []
          : PROXY_MODES.filter((m) => t.probes?.[m] && !t.probes[m].ok).map((m) => ({
              mode: m,
              error: String(t.probes[m].error),
            })),
        /** The last line it printed that is not a JSON log line (a peer's own error report). */
        lastPrinted: (t.errorLines ?? []).filter((/** @type {string} */ l) => !l.startsWith('{')).at(-1),
        at: byMode,
      };
    });
  /** @param {string} name @param {string} mode @param {number} c */
  const at = (name, mode, c) => targets.find((t) => t.name === name)?.at[mode]?.[c];
  /** modelgate's goals in one mode: the figures and whether each is met (null: not measured). @param {string} mode */
  const goalsIn = (mode) => {
    const mg = at('modelgate', mode, 50);
    const one = at('modelgate', mode, 1);
    const up = at('upstream', mode, 1);
    /** @type {number | null} */
    const throughput = mg?.throughputOfExpress ?? null;
    /** @type {number | null} */
    const p99 = mg?.p99OfExpress ?? null;
    const added =
      one?.latencyMs?.p50 != null && up?.latencyMs?.p50 != null
        ? round(one.latencyMs.p50 - up.latencyMs.p50, 3)
        : null;
    return {
      throughputOfExpress: throughput,
      throughputMet: throughput === null ? null : throughput >= PROXY_GOALS.throughputOfExpress,
      p99OfExpress: p99,
      p99Met: p99 === null ? null : p99 <= PROXY_GOALS.p99OfExpress,
      addedP50AtOneConnectionMs: added,
      addedP50Met: added === null ? null : added <= PROXY_GOALS.addedP50AtOneConnectionMs,
    };
  };
  const goals = { plain: goalsIn('plain'), stream: goalsIn('stream') };
  /**
   * modelgate against another target run in the same rounds (the same build with limits and the usage ledger off, or
   * another build), round by round: the medians of the per-round ratios of req/s and CPU per request, of p50, and of
   * the per-round differences in p50 and in CPU per request (the app's and PostgreSQL's). Null when it did not run.
   * @param {string} other @param {string} mode @param {number} c
   */
  const pairedIn = (other, mode, c) => {
    const of = (/** @type {string} */ name) =>
      proxy.runs.filter(
        (/** @type {any} */ r) => r.target === name && r.mode === mode && r.connections === c,
      );
    const others = of(other);
    const pairs = of('modelgate')
      .map((/** @type {any} */ m) => ({ m, b: others.find((/** @type {any} */ b) => b.round === m.round) }))
      .filter((/** @type {any} */ p) => p.b && p.b.requestsPerSecond > 0 && p.b.cpuMicrosPerRequest > 0);
    if (pairs.length === 0) return null;
    const ratio = (/** @type {(r: any) => number} */ pick) =>
      round(median(pairs.map((/** @type {any} */ p) => pick(p.m) / pick(p.b))), 3);
    const added = (/** @type {(r: any) => number | null | undefined} */ pick) => {
      /** @type {number[]} */
      const values = [];
      for (const p of pairs) {
        const [a, b] = [pick(p.m), pick(p.b)];
        if (typeof a === 'number' && typeof b === 'number') values.push(a - b);
      }
      return values.length ? round(median(values), 3) : null;
    };
    return {
      rounds: pairs.length,
      throughput: ratio((r) => r.requestsPerSecond),
      cpuPerRequest: ratio((r) => r.cpuMicrosPerRequest),
      p50: ratio((r) => r.latencyMs.p50),
      p50AddedMs: added((r) => r.latencyMs.p50),
      cpuAddedMicros: added((r) => r.cpuMicrosPerRequest),
      databaseCpuAddedMicros: added((r) => r.databaseCpuMicrosPerRequest),
    };
  };
  /** @param {string} other */
  const pairedWith = (other) =>
    proxy.runs.some((/** @type {any} */ r) => r.target === other)
      ? connections.map((c) => ({
          connections: c,
          plain: pairedIn(other, 'plain', c),
          stream: pairedIn(other, 'stream', c),
        }))
      : null;
  const againstBaseline = pairedWith('modelgate-baseline');
  /** What limits and the usage ledger cost per request: modelgate over the same build with them off. */
  const limitsCost = pairedWith('modelgate-no-limits');
  /** @param {(g: ReturnType<typeof goalsIn>) => boolean | null} pick met in both modes; missed in either; otherwise null (not measured) */
  const both = (pick) => {
    const values = PROXY_MODES.map((m) => pick(goals[m]));
    if (values.includes(false)) return false;
    return values.includes(null) ? null : true;
  };
  return {
    settings: proxy.settings,
    goalsSet: PROXY_GOALS,
    features: /** @type {{ name: string, on: boolean, how: string }[]} */ (proxy.features),
    featuresOff: proxy.features.filter((/** @type {any} */ x) => !x.on).map((/** @type {any} */ x) => x.name),
    targets,
    at,
    goals,
    againstBaseline,
    limitsCost,
    met: {
      throughput: both((g) => g.throughputMet),
      p99: both((g) => g.p99Met),
      addedP50: both((g) => g.addedP50Met),
    },
  };
}

/**
 * The real node's scale-up (the e2e suite's scenario 9: kubelet, containerd and runc run the image), beside the
 * process storm; undefined when the e2e suite has not run here.
 * @param {any} e2e bench/results/e2e-node.json
 */
export function reduceNode(e2e) {
  const scale = e2e?.scenarios?.scale;
  if (!scale) return undefined;
  return {
    from: scale.from,
    to: scale.to,
    allReadyMs: scale.allReadyMs ?? null,
    sourceRequests: scale.sourceRequests,
    at: scale.at,
  };
}

/**
 * bench/failover.mjs's result: the client-visible failures over every cell (goal 0 while a target is healthy) and
 * the time one failover adds.
 * @param {any} failover
 */
export function reduceFailover(failover) {
  /** @type {{ mode: string, scenario: string, requests: number, failures: number }[]} */
  const rows = failover.table;
  const requests = rows.reduce((n, row) => n + row.requests, 0);
  const failures = rows.reduce((n, row) => n + row.failures, 0);
  return { ...failover, requests, failures, failuresMet: failures === 0 };
}

/**
 * bench/limiter.mjs's medians per mechanism, replica count and scenario, and whether every exact run admitted no more
 * than the limit (the requirement) and exactly it (what leases can fall short of).
 * @param {any} limiter
 */
export function reduceLimiter(limiter) {
  /** @type {any[]} */
  const summary = limiter.summary;
  const limit = limiter.settings.exactLimit;
  const cell = (
    /** @type {string} */ mechanism,
    /** @type {number} */ replicas,
    /** @type {string} */ scenario,
  ) => summary.find((r) => r.mechanism === mechanism && r.replicas === replicas && r.scenario === scenario);
  const exact = summary.filter((r) => r.scenario === 'exact');
  return {
    ...limiter,
    cell,
    neverOver: exact.every((r) => r.admitted.every((/** @type {number} */ n) => n <= limit)),
    /** Exact runs that ended before the limit was reached (a mechanism too slow to get there in the run). */
    unreached: exact
      .filter((r) => r.admitted.some((/** @type {number} */ n) => n < limit))
      .map((r) => r.mechanism),
  };
}

/**
 * Every figure the report shows, from the results files.
 * @param {Record<string, any>} results as readResults returns them
 */
export function reduceResults(results) {
  return {
    quick: Object.values(results).some((r) => r?.quick),
    measuredAt: results.machine?.start?.at,
    machine: reduceMachine(results.machine, results),
    storm: results.storm && reduceStorm(results.storm),
    warm: results.warm,
    outage: results.outage && reduceOutage(results.outage),
    reload: results.reload,
    sigterm: results.sigterm,
    soak: results.soak && reduceSoak(results.soak),
    startup: results.startup && reduceStartup(results.startup),
    api: results.api && reduceApi(results.api),
    node: reduceNode(results['e2e-node']),
    proxy: results.proxy ? reduceProxy(results.proxy) : undefined,
    failover: results.failover && reduceFailover(results.failover),
    rewrite: results.rewrite,
    limiter: results.limiter && reduceLimiter(results.limiter),
  };
}

/** @typedef {ReturnType<typeof reduceResults>} Figures */
/** @typedef {ReturnType<typeof reduceProxy>['targets'][number]} ProxyTarget */

// @ts-check
// Cold-start storm: N pods start together against one PostgreSQL (empty database) and a model source that answers
// after 2 s, with an empty cluster-wide cache. Measures the time until every pod is ready, the requests that reached
// the source, migration executions and failures, for modelgate and the two baselines in the same run.
import fs from 'node:fs';
import os from 'node:os';
import { log, median, now, quick, round, scratchDir } from './lib/common.mjs';
import { DESIGNS, jsonLines, podSpec } from './lib/designs.mjs';
import { runPod, stopPod, RESTART_BACKOFF_MS } from './lib/pod.mjs';
import { cpuSecondsOf, machineBusySeconds, stopAll } from './lib/processes.mjs';
import { freePort } from '../test/support/ports.mjs';
import { migrationsDirectory } from './lib/migrations.mjs';
import { startFlightCoordinator } from './lib/floor.mjs';

/** BENCH_STORM_SIZES (e.g. 1,32) and BENCH_STORM_DESIGNS (e.g. modelgate) narrow a run while working on one part. */
export const STORM_SIZES = process.env.BENCH_STORM_SIZES
  ? process.env.BENCH_STORM_SIZES.split(',').map(Number)
  : quick
    ? [1, 4]
    : [1, 4, 16, 32];
const STORM_DESIGNS = process.env.BENCH_STORM_DESIGNS
  ? DESIGNS.filter((design) => process.env.BENCH_STORM_DESIGNS?.split(',').includes(design))
  : DESIGNS;
/** How long a storm may take before the pods still not ready are counted as never ready. */
export const STORM_DEADLINE_MS = Number(process.env.BENCH_STORM_DEADLINE_MS ?? (quick ? 45_000 : 150_000));
/** Gunicorn's default worker timeout, kept at 30 s (the origin's setting). */
export const WORKER_TIMEOUT_MS = Number(process.env.BENCH_WORKER_TIMEOUT_MS ?? 30_000);
/** modelgate's storms are short, so they are repeated and the median reported; the baselines run once per N. */
export const REPEATS = { modelgate: quick ? 1 : 3, naive: 1, 'pid-mod-4': 1, floor: quick ? 1 : 3 };

const LOCKED = /already locked|MigrationLocked/i;

/**
 * CPU seconds used by every process of the storm up to now: exited processes printed theirs (cpu-report.cjs), running
 * ones are read from /proc (for the pid % 4 baseline, its live workers too, whose PIDs they logged).
 * @param {import('./lib/pod.mjs').PodRecord[]} pods
 */
function cpuAccount(pods) {
  let total = 0;
  /** @type {Record<string, number>} */
  const byKind = {};
  for (const pod of pods) {
    const running = pod.app && !pod.app.done ? pod.app : undefined;
    for (const run of pod.runs) {
      const output = running && run.pid === running.pid ? running.output() : run.output;
      const lines = jsonLines(output);
      const seconds = lines.reduce((sum, line) => sum + (line.benchCpuSeconds ?? 0), 0);
      total += seconds;
      byKind[run.kind] = (byKind[run.kind] ?? 0) + seconds;
      if (running && run.pid === running.pid) {
        const exited = new Set(
          lines.filter((line) => line.benchCpuSeconds !== undefined).map((line) => line.pid),
        );
        const live = new Set([
          running.pid,
          ...lines.filter((l) => l.event === 'worker-boot').map((l) => l.pid),
        ]);
        for (const pid of live) {
          if (exited.has(pid)) continue;
          const seconds = cpuSecondsOf(pid);
          total += seconds;
          byKind[run.kind] = (byKind[run.kind] ?? 0) + seconds;
        }
      }
    }
  }
  return { total, byKind };
}

/** @param {number[]} values */
function medianOrNull(values) {
  return values.length ? round(median(values), 0) : null;
}

/**
 * The median of each step's seconds (waitDb, migrate, models, total) over init summaries.
 * @param {Record<string, number>[]} durations
 */
export function stepMedians(durations) {
  /** @type {Record<string, number>} */
  const out = {};
  const steps = new Set(durations.flatMap((d) => Object.keys(d)));
  for (const step of steps) out[step] = round(median(durations.map((d) => d[step] ?? 0)), 3);
  return out;
}

/**
 * @param {{ pg: import('./lib/postgres.mjs').BenchPostgres, source: import('./lib/model-source.mjs').ModelSource,
 *   cluster: import('./lib/kube.mjs').BenchCluster,
 *   coordinator?: Awaited<ReturnType<typeof startFlightCoordinator>> }} env
 * @param {import('./lib/designs.mjs').Design} design @param {number} n @param {number} repeat
 */
export async function stormOnce(env, design, n, repeat) {
  const tag = `${design.replace(/-/g, '_')}_${n}_${repeat}`;
  const databaseUrl = await env.pg.createDatabase(`storm_${tag}`);
  const configMap =
    design === 'modelgate'
      ? await env.cluster.createConfigMap(`models-${tag.replace(/_/g, '-')}`)
      : undefined;
  const runDir = scratchDir(`storm-${tag}`);
  const ports = [];
  for (let i = 0; i < n; i++) ports.push(await freePort());
  const ctx = {
    databaseUrl,
    sourceUrl: env.source.url,
    runDir,
    kubeconfig: env.cluster.kubeconfig,
    configMap,
    workerTimeoutMs: WORKER_TIMEOUT_MS,
    coordinatorUrl: env.coordinator?.url,
  };
  const specs = ports.map((port, i) => podSpec(design, i, port, ctx));
  env.source.reset();
  env.coordinator?.reset();
  const busyBefore = machineBusySeconds();
  const t0 = now();
  const deadline = t0 + STORM_DEADLINE_MS;
  const pods = await Promise.all(specs.map((spec) => runPod(spec, deadline)));
  const endedAt = now();
  const machineCpuSeconds = machineBusySeconds() - busyBefore;
  const { total: cpuSeconds, byKind } = cpuAccount(pods);
  await Promise.all(pods.map((pod) => stopPod(pod)));
  await stopAll();
  const sourceRequests = env.source.requests();
  const sourceRequestMs = env.source.requestTimes().map((at) => round(at - t0, 0));

  const readyMs = pods
    .filter((p) => p.readyAt !== undefined)
    .map((p) => round(/** @type {number} */ (p.readyAt) - t0, 0));
  const outputs = pods.flatMap((pod) =>
    pod.runs.map((run) => ({ pod: pod.name, kind: run.kind, output: run.output })),
  );
  const events = outputs.flatMap((o) =>
    jsonLines(o.output).map((line) => ({ pod: o.pod, kind: o.kind, line })),
  );
  const database = await migrationState(env.pg, `storm_${tag}`);

  const result = {
    design,
    n,
    repeat,
    allReady: readyMs.length === n,
    allReadyMs: readyMs.length === n ? Math.max(...readyMs) : null,
    readyCount: readyMs.length,
    readyMs: readyMs.sort((a, b) => a - b),
    /** When each pod's init container finished (designs with one), sorted: where the storm's time went. */
    initDoneMs: pods
      .filter((p) => p.initDoneAt !== undefined)
      .map((p) => round(Number(p.initDoneAt) - t0, 0))
      .sort((a, b) => a - b),
    elapsedMs: round(endedAt - t0, 0),
    sourceRequests,
    /** When each source request arrived: how long the storm took to start the one fetch. */
    sourceRequestMs,
    cpuSeconds: round(cpuSeconds, 2),
    /** Per pod and process kind (modelgate: its init container and its app), what one pod costs. */
    cpuSecondsPerPod: Object.fromEntries(
      Object.entries(byKind).map(([kind, seconds]) => [kind, round(seconds / n, 3)]),
    ),
    /** The whole machine's busy CPU time from the start to the last pod ready: the pods, PostgreSQL, the API server,
     * the model source and the harness that probes the pods. */
    machineCpuSeconds: round(machineCpuSeconds, 2),
    /** What the processes' CPU time alone takes on this machine's cores, ready or not: a floor under allReadyMs. */
    cpuFloorMs: round((cpuSeconds / os.cpus().length) * 1000, 0),
    /** Processes whose output shows knex's MigrationLocked error. */
    migrationLockedProcesses: outputs.filter((o) => LOCKED.test(o.output)).length,
    database,
    ...designCounts(design, pods, events),
  };
  fs.rmSync(runDir, { recursive: true, force: true });
  return result;
}

/**
 * Migration executions as PostgreSQL recorded them: one knex_migrations row per executed migration.
 * @param {import('./lib/postgres.mjs').BenchPostgres} pg @param {string} database
 */
async function migrationState(pg, database) {
  const files = fs.readdirSync(migrationsDirectory()).filter((f) => f.endsWith('.js')).length;
  const [table] = await pg.query(
    database,
    `SELECT to_regclass('knex_migrations') AS t, to_regclass('knex_migrations_lock') AS l`,
  );
  if (!table.t) return { migrationFiles: files, rows: 0, distinct: 0, batches: 0, knexLockLeftSet: false };
  const [rows] = await pg.query(
    database,
    'SELECT count(*)::int AS rows, count(DISTINCT name)::int AS distinct, count(DISTINCT batch)::int AS batches FROM knex_migrations',
  );
  const lock = table.l ? await pg.query(database, 'SELECT is_locked FROM knex_migrations_lock') : [];
  return {
    migrationFiles: files,
    ...rows,
    complete: rows.distinct === files,
    knexLockLeftSet: lock.some((/** @type {{ is_locked: number }} */ r) => r.is_locked !== 0),
    /** knex expects exactly one row; two (a creation race) make every later migrate.latest fail as locked. */
    knexLockRows: lock.length,
  };
}

/**
 * The first lines of what failed processes printed (at most five).
 * @param {import('./lib/pod.mjs').PodRecord[]} pods
 */
function exitErrors(pods) {
  return pods
    .flatMap((p) => p.runs.filter((run) => run.code !== undefined && run.code !== 0))
    .map((run) => `${run.kind} exited ${run.code}: ${run.output.trim().split('\n').slice(0, 3).join(' ')}`)
    .slice(0, 5);
}

/**
 * What each design did, from its processes' own log lines.
 * @param {string} design @param {import('./lib/pod.mjs').PodRecord[]} pods @param {{ pod: string, kind: string, line: any }[]} events
 */
function designCounts(design, pods, events) {
  if (design === 'modelgate') {
    const summaries = events.map((e) => e.line.summary).filter(Boolean);
    /** @type {Record<string, number>} */
    const origins = {};
    for (const s of summaries) origins[s.artifact.origin] = (origins[s.artifact.origin] ?? 0) + 1;
    const totals = summaries.filter((s) => s.exitCode === 0).map((s) => s.durations.total);
    return {
      migrationsApplied: summaries.reduce((sum, s) => sum + s.migrations.applied.length, 0),
      failures: pods.reduce((sum, p) => sum + p.initFailures + p.appExits, 0),
      initFailures: pods.reduce((sum, p) => sum + p.initFailures, 0),
      initExitCodes: summaries.filter((s) => s.exitCode !== 0).map((s) => s.exitCode),
      initErrors: summaries
        .filter((s) => s.error)
        .map((s) => s.error)
        .slice(0, 5),
      appExits: pods.reduce((sum, p) => sum + p.appExits, 0),
      appErrors: exitErrors(pods.map((p) => ({ ...p, runs: p.runs.filter((run) => run.kind === 'app') }))),
      artifactOrigins: origins,
      initSecondsMedian: totals.length ? round(median(totals), 3) : null,
      initStepSecondsMedian: stepMedians(summaries.filter((s) => s.exitCode === 0).map((s) => s.durations)),
      /** From the end of a pod's init container to its first ready probe: the app's own start. */
      appStartMsMedian: medianOrNull(
        pods
          .filter((p) => p.readyAt !== undefined && p.initDoneAt !== undefined)
          .map((p) => Number(p.readyAt) - Number(p.initDoneAt)),
      ),
    };
  }
  if (design === 'floor') {
    return {
      migrationsApplied: 0,
      failures: pods.reduce((sum, p) => sum + p.initFailures + p.appExits, 0),
      initFailures: pods.reduce((sum, p) => sum + p.initFailures, 0),
      appExits: pods.reduce((sum, p) => sum + p.appExits, 0),
      errors: exitErrors(pods),
    };
  }
  const by = (/** @type {string} */ name) => events.filter((e) => e.line.event === name);
  const migrationsApplied = by('migrate').reduce((sum, e) => sum + e.line.applied.length, 0);
  if (design === 'naive') {
    return {
      migrationsApplied,
      failures: pods.reduce((sum, p) => sum + p.appExits, 0),
      appExits: pods.reduce((sum, p) => sum + p.appExits, 0),
      migrateFailures: by('migrate-failed').length,
      fetchFailures: by('fetch-failed').length,
      errors: [...new Set(by('crash').map((e) => e.line.error))].slice(0, 5),
    };
  }
  const boots = by('worker-boot');
  const matchingPerPod = pods.map((p) => boots.filter((e) => e.pod === p.name && e.line.matches).length);
  return {
    migrationsApplied,
    failures: by('worker-crash').length + by('worker-timeout').length,
    workerCrashes: by('worker-crash').length,
    workerTimeouts: by('worker-timeout').length,
    workerBoots: boots.length,
    podsWithoutMatchingWorker: matchingPerPod.filter((m) => m === 0).length,
    podsWithSeveralMatchingWorkers: matchingPerPod.filter((m) => m > 1).length,
    migrateFailures: by('migrate-failed').length,
    fetchFailures: by('fetch-failed').length,
    errors: [...new Set(by('worker-crash').map((e) => e.line.error))].slice(0, 5),
  };
}

/**
 * @param {{ pg: import('./lib/postgres.mjs').BenchPostgres, source: import('./lib/model-source.mjs').ModelSource,
 *   cluster: import('./lib/kube.mjs').BenchCluster }} env
 */
export async function runStorm(env) {
  const runs = [];
  const coordinator = await startFlightCoordinator(env.source.url);
  try {
    for (const n of STORM_SIZES) {
      for (const design of STORM_DESIGNS) {
        for (let repeat = 0; repeat < REPEATS[design]; repeat++) {
          log(`storm: ${design}, N=${n}, run ${repeat + 1}/${REPEATS[design]}`);
          const result = await stormOnce({ ...env, coordinator }, design, n, repeat);
          log(
            `  ${result.readyCount}/${n} ready${result.allReady ? ` in ${result.allReadyMs} ms` : ''}, ` +
              `${result.sourceRequests} source requests, ${result.migrationsApplied} migrations applied, ${result.failures} failures`,
          );
          runs.push(result);
        }
      }
    }
  } finally {
    await coordinator.close();
  }
  return {
    settings: {
      sizes: STORM_SIZES,
      deadlineMs: STORM_DEADLINE_MS,
      workerTimeoutMs: WORKER_TIMEOUT_MS,
      restartBackoffMs: RESTART_BACKOFF_MS,
      sourceDelayMs: 2000,
      repeats: REPEATS,
    },
    runs,
  };
}

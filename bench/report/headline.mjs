// @ts-check
// The headline table of the benchmark report: every row on docs/benchmarks.md, a few of them in the README's
// generated block. Numbers come from the figures of reduce.mjs; the machine from what bench/lib/machine.mjs recorded.
import { round } from '../lib/common.mjs';
import {
  HEAD,
  HEADLINE_END,
  HEADLINE_START,
  REPRODUCE,
  num,
  pct,
  proxyRate,
  s,
  table,
  x,
  yes,
} from './format.mjs';

export { HEADLINE_END, HEADLINE_START };
import { FLOOR_GOAL, RATIO_GOAL } from './reduce.mjs';

/** @typedef {import('./reduce.mjs').Figures} Figures */

/** @param {NonNullable<Figures['storm']>} storm */
function stormCell(storm, /** @type {string} */ design) {
  const d = storm.designs[design];
  const r = d?.first;
  if (!r) return 'n/a';
  const ready = d.allReadyAtLargest;
  return `${ready !== null ? s(ready) : `${r.readyCount}/${r.n} ready by ${s(storm.settings.deadlineMs)}`}; ${r.sourceRequests} source req.; ${r.failures} failures; CPU floor ${s(r.cpuFloorMs)}`;
}

/** @param {NonNullable<Figures['storm']>} storm @param {string} design */
const ratioCell = (storm, design) =>
  storm.designs[design]?.ratio == null ? 'n/a (not all ready)' : x(storm.designs[design].ratio);

/** Every headline row, by name; the page shows them all, the README a few. @param {Figures} f */
function headlineRows(f) {
  const { storm, warm, outage, reload, sigterm, soak, startup, api, node, proxy, failover, rewrite } = f;
  /** @type {Record<string, (string | number)[]>} */
  const rows = {};
  if (storm) {
    rows.storm = [
      `Cold-start storm, N = ${storm.largest}: all ready; source requests; failures`,
      '1 request, 0 failures',
      stormCell(storm, 'modelgate'),
      stormCell(storm, 'naive'),
      stormCell(storm, 'pid-mod-4'),
    ];
    rows.ratio = [
      `All-ready time N = ${storm.largest} / N = ${storm.smallest}`,
      `≤ ${RATIO_GOAL}x`,
      storm.ratio === null ? 'n/a' : `${x(storm.ratio)} (${yes(storm.goals.ratio)})`,
      ratioCell(storm, 'naive'),
      ratioCell(storm, 'pid-mod-4'),
    ];
    const floor = storm.designs.floor;
    if (floor && floor.allReadyAtLargest !== null)
      rows.floor = [
        `This machine's floor: the same storm with two do-nothing Node.js processes per pod (N = ${storm.largest} all ready; ratio); modelgate's all-ready time over it`,
        `modelgate ≤ ${FLOOR_GOAL}x the floor`,
        `${s(floor.allReadyAtLargest)}; ${ratioCell(storm, 'floor')}; modelgate ${storm.overFloor === null ? 'n/a' : `${x(storm.overFloor)} (${yes(storm.goals.overFloor)})`}`,
        '',
        '',
      ];
  }
  if (node)
    rows.node = [
      `Real node (kubelet, containerd, runc; \`npm run test:e2e\`), ${node.from} → ${node.to} replicas: all ready; source requests`,
      '1 request',
      `${s(node.allReadyMs)}; ${node.sourceRequests} source req.`,
      '',
      '',
    ];
  if (warm)
    rows.warm = [
      'Warm restart: source requests; init vs bare `node -e ""`',
      '0 requests',
      `${warm.sourceRequests}; ${s(warm.init.medianMs)} vs ${round(warm.bareNode.medianMs, 0)} ms`,
      '',
      '',
    ];
  if (outage)
    rows.outage = [
      `Source outage: ${outage.pods} new pods ready (healthy: ${s(outage.healthy?.allReadyMs)})`,
      'ready, same time',
      outage.failing
        .map((/** @type {any} */ o) => `${o.name}: ${o.allReady ? s(o.allReadyMs) : 'not all ready'}`)
        .join('; '),
      '',
      '',
    ];
  if (reload)
    rows.reload = [
      'Hot reload under load: failed requests',
      '0',
      `${reload.failedRequests} of ${reload.requests}; ${reload.reloadsSeen}/${reload.swaps} swaps served, median ${round(reload.reloadLatency.medianMs, 0)} ms`,
      '',
      '',
    ];
  if (sigterm)
    rows.sigterm = [
      'SIGTERM under load: failed requests, broken streams',
      '0',
      `${sigterm.failedRequests} requests, ${sigterm.streamsFailed} streams (${sigterm.runs.length} runs)`,
      '',
      '',
    ];
  if (soak)
    rows.soak = [
      `Soak ${round(soak.seconds / 60, 1)} min at ${soak.targetRate} req/s: RSS slope; errors`,
      'no growth; 0',
      `${soak.rss.slopeMiBPerMinute} MiB/min (95% CI ${soak.rss.slopeCi95MiBPerMinute.join(' to ')}); ${soak.errors}`,
      '',
      '',
    ];
  if (startup)
    rows.startup = [
      `Start-up: spawn to first 200 on \`/readyz\`, ${startup.models}-model artifact (median)`,
      `≤ ${startup.goalRatio}x bare node`,
      `${startup.milliseconds.app.median} ms = ${startup.appMedianOverNode}x bare node (${yes(startup.ratioMet)})`,
      '',
      '',
    ];
  if (api)
    rows.api = [
      'API: authenticated `GET /api/v1/models` vs bare express; p99',
      '≥ 70%; p99 < 25 ms',
      `${round(api.modelsVsBareExpress * 100, 1)}% (${yes(api.ratioMet)}); p99 ${api.models.latencyMs.p99} ms (${yes(api.p99Met)})`,
      '',
      '',
    ];
  if (failover)
    rows.failover = [
      'Failover past a refusing, a 503 and an open-circuited upstream: client-visible failures; time one failover adds (median)',
      '0 failures',
      `${failover.failures} of ${failover.requests} (${yes(failover.failuresMet)}); ` +
        failover.added
          .map((/** @type {any} */ a) => `${a.scenario.split(',')[0]} ${a.addedMs} ms`)
          .join(', '),
      '',
      '',
    ];
  if (rewrite)
    rows.rewrite = [
      "Rewriting each streamed chunk's `model` to the name asked for",
      'reference',
      `${round(rewrite.perChunkNs.rewriter / 1000, 2)} µs per chunk (JSON.parse + stringify: ${round(rewrite.perChunkNs.parseAndStringify / 1000, 2)} µs)`,
      '',
      '',
    ];
  if (proxy) Object.assign(rows, proxyRows(proxy));
  return rows;
}

/** The proxy benchmark's rows: modelgate against the bare express proxy, its added latency, the peers. @param {NonNullable<Figures['proxy']>} proxy */
function proxyRows(proxy) {
  const { goals, goalsSet, met } = proxy;
  const target = (/** @type {string} */ name) => proxy.targets.find((t) => t.name === name);
  const rate = (/** @type {string} */ name, /** @type {string} */ mode) => proxyRate(target(name), mode, 50);
  /** @type {Record<string, (string | number)[]>} */
  const rows = {
    proxy: [
      'Chat completions at 50 connections, plain / streamed: req/s; share of a bare express proxy (median of the rounds); p99 against its p99',
      `≥ ${pct(goalsSet.throughputOfExpress)}; ≤ ${x(goalsSet.p99OfExpress)}`,
      `${rate('modelgate', 'plain')} / ${rate('modelgate', 'stream')} req/s (bare express ${rate('express', 'plain')} / ${rate('express', 'stream')}); ` +
        `${pct(goals.plain.throughputOfExpress)} / ${pct(goals.stream.throughputOfExpress)} (${yes(met.throughput)}); ` +
        `p99 ${x(goals.plain.p99OfExpress)} / ${x(goals.stream.p99OfExpress)} (${yes(met.p99)})`,
      '',
      '',
    ],
  };
  if (goals.plain.addedP50AtOneConnectionMs !== null)
    rows.proxyLatency = [
      'Chat completions at 1 connection: p50 added over the upstream directly, plain / streamed',
      `≤ ${goalsSet.addedP50AtOneConnectionMs} ms`,
      `${num(goals.plain.addedP50AtOneConnectionMs, 2)} / ${num(goals.stream.addedP50AtOneConnectionMs, 2)} ms (${yes(met.addedP50)})`,
      '',
      '',
    ];
  const costAt = (/** @type {number} */ c) => proxy.limitsCost?.find((row) => row.connections === c);
  /** A difference with its sign: +0.25, -7.06. @param {number | null | undefined} n @param {number} [digits] */
  const signed = (n, digits = 0) => (typeof n === 'number' && n >= 0 ? `+${num(n, digits)}` : num(n, digits));
  const [one, fifty] = [costAt(1), costAt(50)];
  if (one || fifty)
    rows.proxyLimitsCost = [
      'Limits and the usage ledger per request, plain / streamed (against the same build with them off, same rounds): p50 added at 1 connection; CPU µs added at 50 connections, in the app and in PostgreSQL; req/s at 50 connections, on over off',
      'reference',
      `${signed(one?.plain?.p50AddedMs, 3)} / ${signed(one?.stream?.p50AddedMs, 3)} ms; ` +
        `app ${signed(fifty?.plain?.cpuAddedMicros)} / ${signed(fifty?.stream?.cpuAddedMicros)} µs, PostgreSQL ${signed(fifty?.plain?.databaseCpuAddedMicros)} / ${signed(fifty?.stream?.databaseCpuAddedMicros)} µs; ` +
        `${x(fifty?.plain?.throughput)} / ${x(fifty?.stream?.throughput)}`,
      '',
      '',
    ];
  const peers = proxy.targets.filter((t) => t.peer);
  if (peers.length)
    rows.proxyPeers = [
      `Peers in the same run, plain / streamed req/s at 50 connections: ${peers.map((t) => t.label).join('; ')}`,
      'reference',
      peers
        .map((t) => `${t.label.split(' ')[0]} ${proxyRate(t, 'plain', 50)} / ${proxyRate(t, 'stream', 50)}`)
        .join('; '),
      '',
      '',
    ];
  return rows;
}

/** The page's headline: every benchmark that ran. @param {Figures} f */
export function headline(f) {
  return table(HEAD, Object.values(headlineRows(f)));
}

/**
 * The README's rows: the storm, its ratio, the outage, no failed request on reload or SIGTERM, start-up, API, and
 * chat completions through the gateway against the bare express proxy.
 */
const README_ROWS = ['storm', 'ratio', 'outage', 'reload', 'sigterm', 'startup', 'api', 'proxy'];

/**
 * The README's generated block, markers included: a few rows and where the rest is.
 * @param {Figures} f
 */
export function readmeHeadline(f) {
  const rows = headlineRows(f);
  const m = f.machine;
  const floor = f.storm?.modelgateAtLargest;
  const cpuBound = floor && floor.cpuFloorMs >= floor.readyMs / 2;
  /** Why the machine was busy at the start, when it was. */
  const busy = !m?.shared
    ? ''
    : m.afterOwnBenchmarks.length > 0
      ? ", just after the run's own first benchmarks"
      : ', other work running';
  return [
    HEADLINE_START,
    table(
      HEAD,
      README_ROWS.filter((name) => rows[name]).map((name) => /** @type {(string | number)[]} */ (rows[name])),
    ),
    '',
    ...(m
      ? [
          `Measured on ${m.cpus} × ${m.cpuModel} (load average ${m.loadStart[0]} at the start${busy}), every pod's processes on the same cores` +
            (cpuBound
              ? ": the storm's wall times are bound by CPU there, not by coordination (the CPU floor and the CPU per pod of each design are in the report)."
              : '.'),
        ]
      : []),
    `Method, machine, charts and every figure: [docs/benchmarks.md](docs/benchmarks.md)${f.quick ? ' (these numbers come from a quick smoke run)' : ''}. Reproduce with \`${REPRODUCE}\`.`,
    HEADLINE_END,
  ].join('\n');
}

/** Replaces the README's headline block; a README without one is returned as it is. @param {string} readme @param {Figures} f */
export function replaceReadmeHeadline(readme, f) {
  const start = readme.indexOf(HEADLINE_START);
  const end = readme.indexOf(HEADLINE_END);
  if (start < 0 || end < start) return readme;
  return readme.slice(0, start) + readmeHeadline(f) + readme.slice(end + HEADLINE_END.length);
}

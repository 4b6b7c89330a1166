// @ts-check
// Charts of the results: vega-lite specs compiled and rendered to SVG in node (no browser, no canvas).
import fs from 'node:fs';
import path from 'node:path';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { PROXY_MODES, reduceProxy } from './reduce.mjs';

const DESIGN_ORDER = ['modelgate', 'naive', 'pid-mod-4', 'floor'];
const DESIGN_COLORS = ['#2b8a3e', '#e8590c', '#5f3dc4', '#868e96'];
const designColor = {
  field: 'design',
  type: 'nominal',
  title: 'design',
  scale: { domain: DESIGN_ORDER, range: DESIGN_COLORS },
};

/** @param {object} spec a vega-lite spec without data URLs @returns {Promise<string>} */
export async function renderSvg(spec) {
  const compiled = vl.compile(
    /** @type {any} */ ({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', ...spec }),
  ).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return `${svg}\n`;
}

const base = {
  width: 420,
  height: 240,
  config: { font: 'sans-serif', view: { stroke: null }, legend: { labelLimit: 320 } },
};

/** @param {any} storm */
function stormCharts(storm) {
  const byRun = storm.runs.map((/** @type {any} */ r) => ({
    design: r.design,
    n: r.n,
    seconds: r.allReady ? r.allReadyMs / 1000 : storm.settings.deadlineMs / 1000,
    outcome: r.allReady
      ? 'every pod ready'
      : `not all ready by the ${storm.settings.deadlineMs / 1000} s deadline`,
    sourceRequests: r.sourceRequests,
    failures: r.failures,
    migrationsApplied: r.migrationsApplied,
  }));
  /** Source requests and failures are counted once per design and N, from its first run. */
  const firstRunOfEachN = byRun.filter(
    (/** @type {any} */ r, /** @type {number} */ i, /** @type {any[]} */ all) =>
      all.findIndex((o) => o.design === r.design && o.n === r.n) === i,
  );
  /** A bar per design and N of `field`, counted in the first run of each. @param {string} title @param {string} field @param {string} unit */
  const firstRunBars = (title, field, unit) => ({
    ...base,
    title,
    data: { values: firstRunOfEachN },
    mark: 'bar',
    encoding: {
      x: nAxis,
      xOffset: { field: 'design', sort: DESIGN_ORDER },
      y: { field, type: 'quantitative', title: `${unit} (first run of each N)` },
      color: designColor,
    },
  });
  const largest = Math.max(...storm.runs.map((/** @type {any} */ r) => r.n));
  const timeline = [];
  for (const design of DESIGN_ORDER) {
    const run = storm.runs.find((/** @type {any} */ r) => r.design === design && r.n === largest);
    if (!run) continue;
    timeline.push({ design, seconds: 0, ready: 0 });
    run.readyMs.forEach((/** @type {number} */ ms, /** @type {number} */ i) =>
      timeline.push({ design, seconds: ms / 1000, ready: i + 1 }),
    );
    timeline.push({ design, seconds: run.elapsedMs / 1000, ready: run.readyMs.length });
  }
  const nAxis = { field: 'n', type: 'ordinal', title: 'pods starting together (N)', axis: { labelAngle: 0 } };
  return {
    'storm-ready.svg': {
      ...base,
      title: 'Cold-start storm: time until every pod is ready',
      data: { values: byRun },
      mark: { type: 'point', filled: true, size: 90 },
      encoding: {
        x: nAxis,
        xOffset: { field: 'design', sort: DESIGN_ORDER },
        y: { field: 'seconds', type: 'quantitative', title: 'seconds (deadline when not all ready)' },
        color: designColor,
        shape: { field: 'outcome', type: 'nominal', title: 'outcome', scale: { range: ['circle', 'cross'] } },
      },
    },
    'storm-timeline.svg': {
      ...base,
      title: `Pods ready over time, N = ${largest}`,
      data: { values: timeline },
      mark: { type: 'line', interpolate: 'step-after' },
      encoding: {
        x: { field: 'seconds', type: 'quantitative', title: 'seconds since the pods started' },
        y: {
          field: 'ready',
          type: 'quantitative',
          title: 'pods ready',
          scale: { domain: [0, largest] },
          axis: { format: 'd', tickMinStep: 1 },
        },
        color: designColor,
      },
    },
    'storm-source-requests.svg': firstRunBars(
      'Requests that reached the model source',
      'sourceRequests',
      'requests',
    ),
    'storm-failures.svg': firstRunBars(
      'Failures during the storm (crashes, init failures, killed workers)',
      'failures',
      'failures',
    ),
  };
}

/** @param {any} warm */
function warmChart(warm) {
  const values = [
    { what: 'bare node -e ""', ms: warm.bareNode.medianMs },
    { what: 'modelgate-init all (warm)', ms: warm.init.medianMs },
    { what: 'pod ready (init + app)', ms: warm.podReady.medianMs },
    ...(warm.moduleLoads ?? []).map((/** @type {any} */ m) => ({
      what: `node -e "${m.what}"`,
      ms: m.medianMs,
    })),
  ];
  return {
    ...base,
    height: 160,
    title: 'Warm restart: median milliseconds',
    data: { values },
    mark: 'bar',
    encoding: {
      y: { field: 'what', type: 'nominal', title: null, sort: null },
      x: { field: 'ms', type: 'quantitative', title: 'milliseconds (median)' },
    },
  };
}

/** @param {any} outage */
function outageChart(outage) {
  const values = outage.scenarios.map((/** @type {any} */ s) => ({
    scenario: s.name,
    seconds: s.allReady ? s.allReadyMs / 1000 : outage.deadlineMs / 1000,
    outcome: s.allReady ? 'every pod ready' : 'not all ready by the deadline',
  }));
  return {
    ...base,
    height: 160,
    title: `Source outage: time until ${outage.pods} new pods are ready (cache 1 h old)`,
    data: { values },
    mark: 'bar',
    encoding: {
      y: { field: 'scenario', type: 'nominal', title: null, sort: null },
      x: { field: 'seconds', type: 'quantitative', title: 'seconds until every pod is ready' },
      color: {
        field: 'outcome',
        type: 'nominal',
        title: null,
        scale: {
          domain: ['every pod ready', 'not all ready by the deadline'],
          range: ['#2b8a3e', '#c92a2a'],
        },
      },
    },
  };
}

/** @param {any} soak */
function soakChart(soak) {
  const fitted = soak.samples.filter((/** @type {any} */ s) => s.t >= soak.warmupSeconds);
  const first = fitted[0]?.t ?? 0;
  const last = fitted.at(-1)?.t ?? 0;
  const line = [first, last].map((t) => ({
    t,
    fit: soak.rss.interceptMiB + (soak.rss.slopeMiBPerMinute / 60) * t,
  }));
  return {
    ...base,
    title: `Soak: RSS at ${soak.targetRate} req/s (70% of max), slope ${soak.rss.slopeMiBPerMinute} MiB/min`,
    layer: [
      {
        data: { values: soak.samples },
        mark: { type: 'line', point: { size: 12 } },
        encoding: {
          x: { field: 't', type: 'quantitative', title: 'seconds' },
          y: { field: 'rssMiB', type: 'quantitative', title: 'RSS (MiB)', scale: { zero: false } },
        },
      },
      {
        data: { values: line },
        mark: { type: 'line', color: '#c92a2a', strokeDash: [6, 4] },
        encoding: { x: { field: 't', type: 'quantitative' }, y: { field: 'fit', type: 'quantitative' } },
      },
    ],
  };
}

/** Requests/s of every target at 50 connections, plain and streamed. @param {any} proxy */
function proxyChart(proxy) {
  const { targets } = reduceProxy(proxy);
  const values = targets.flatMap((t) =>
    PROXY_MODES.map((mode) => ({ mode, figures: t.at[mode]?.[50] }))
      .filter(({ figures }) => figures && !figures.failed && figures.requestsPerSecond > 0)
      .map(({ mode, figures }) => ({
        target: t.label,
        mode: mode === 'plain' ? 'plain' : 'streamed',
        rps: figures.requestsPerSecond,
      })),
  );
  return {
    ...base,
    height: 260,
    config: { ...base.config, axis: { labelLimit: 300 } },
    title: 'Chat completions, 50 connections: requests/s (log scale)',
    data: { values },
    mark: 'bar',
    encoding: {
      y: { field: 'target', type: 'nominal', title: null, sort: targets.map((t) => t.label) },
      yOffset: { field: 'mode', type: 'nominal', sort: ['plain', 'streamed'] },
      x: {
        field: 'rps',
        type: 'quantitative',
        title: 'requests/s (median of rounds)',
        scale: { type: 'log' },
      },
      color: {
        field: 'mode',
        type: 'nominal',
        title: 'mode',
        scale: { domain: ['plain', 'streamed'], range: ['#2b8a3e', '#1971c2'] },
      },
    },
  };
}

/**
 * Renders every chart whose results exist; returns the written file names (relative to dir).
 * @param {Record<string, any>} results @param {string} dir
 */
export async function writeCharts(results, dir) {
  /** @type {Record<string, object>} */
  const specs = {};
  if (results.storm) Object.assign(specs, stormCharts(results.storm));
  if (results.warm) specs['warm-restart.svg'] = warmChart(results.warm);
  if (results.outage) specs['source-outage.svg'] = outageChart(results.outage);
  if (results.soak) specs['soak-rss.svg'] = soakChart(results.soak);
  if (results.proxy) specs['proxy-throughput.svg'] = proxyChart(results.proxy);
  fs.mkdirSync(dir, { recursive: true });
  for (const [file, spec] of Object.entries(specs))
    fs.writeFileSync(path.join(dir, file), await renderSvg(spec));
  return Object.keys(specs);
}

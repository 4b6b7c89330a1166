// @ts-check
// The proxy benchmark's part of the report (bench/results/proxy.json): its headline rows, its section of
// docs/benchmarks.md and its chart.
import { round } from '../lib/common.mjs';

const MODES = /** @type {const} */ (['plain', 'stream']);
const ORDER = ['upstream', 'node-http', 'express', 'modelgate', 'litellm', 'portkey'];

const fmt = (/** @type {number | null | undefined} */ n, digits = 0) =>
  n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : round(n, digits).toLocaleString('en-US');
const pct = (/** @type {number | null | undefined} */ r) =>
  r === null || r === undefined ? 'n/a' : `${round(r * 100, 0)}%`;
const times = (/** @type {number | null | undefined} */ r) =>
  r === null || r === undefined ? 'n/a' : `${fmt(r, 2)}x`;
const met = (/** @type {boolean | null | undefined} */ ok) =>
  ok === null || ok === undefined ? 'n/a' : ok ? 'met' : '**not met**';
const table = (/** @type {string[]} */ head, /** @type {(string | number)[][]} */ rows) =>
  [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');

/** @param {any} proxy */
function facts(proxy) {
  /** @param {string} target @param {string} mode @param {number} connections */
  const at = (target, mode, connections) =>
    proxy.summaries.find(
      (/** @type {any} */ s) => s.target === target && s.mode === mode && s.connections === connections,
    );
  /** @param {string} name */
  const target = (name) => proxy.targets.find((/** @type {any} */ t) => t.name === name);
  const label = (/** @type {string} */ name) => target(name)?.label ?? name;
  const names = ORDER.filter((n) => target(n));
  /** @param {string} name @param {string} mode @param {number} connections */
  const cell = (name, mode, connections) => {
    const t = target(name);
    if (t?.failed) return 'failed to start';
    const s = at(name, mode, connections);
    if (!s) return 'n/a';
    if (s.failed) return 'failed';
    return fmt(s.requestsPerSecond);
  };
  const goal = (/** @type {string} */ mode) => proxy.goals.find((/** @type {any} */ g) => g.mode === mode);
  return { at, target, label, names, cell, goal };
}

/**
 * Rows for the headline table (Benchmark, Goal, modelgate, and two more columns left empty).
 * @param {any} proxy @returns {string[][]}
 */
export function proxyHeadlineRows(proxy) {
  const f = facts(proxy);
  const plain = f.goal('plain');
  const stream = f.goal('stream');
  const express = (/** @type {string} */ mode) => f.cell('express', mode, 50);
  const rows = [
    [
      'Chat completions at 50 connections, plain / streamed: req/s (share of a bare express proxy); p99 against its p99',
      '≥ 75%; ≤ 1.5x',
      `${f.cell('modelgate', 'plain', 50)} / ${f.cell('modelgate', 'stream', 50)} req/s (${pct(plain?.throughputOfExpress)} / ${pct(stream?.throughputOfExpress)} of ${express('plain')} / ${express('stream')}: ${met(plain?.throughputMet && stream?.throughputMet)}); p99 ${times(plain?.p99OfExpress)} / ${times(stream?.p99OfExpress)} (${met(plain?.p99Met && stream?.p99Met)})`,
      '',
      '',
    ],
  ];
  if (plain?.addedP50AtOneConnectionMs !== null && plain?.addedP50AtOneConnectionMs !== undefined)
    rows.push([
      'Chat completions at 1 connection: p50 added over the upstream directly, plain / streamed',
      '≤ 0.5 ms',
      `${fmt(plain.addedP50AtOneConnectionMs, 2)} / ${fmt(stream?.addedP50AtOneConnectionMs, 2)} ms (${met(plain.addedP50Met && stream?.addedP50Met)})`,
      '',
      '',
    ]);
  const peers = ['litellm', 'portkey'].filter((n) => f.target(n));
  if (peers.length)
    rows.push([
      `Peers in the same run, plain / streamed req/s at 50 connections: ${peers.map(f.label).join('; ')}`,
      'reference',
      peers
        .map((n) => `${f.label(n).split(' ')[0]} ${f.cell(n, 'plain', 50)} / ${f.cell(n, 'stream', 50)}`)
        .join('; '),
      '',
      '',
    ]);
  return rows;
}

/** @param {any} proxy @returns {string} the section's Markdown */
export function proxySection(proxy) {
  const f = facts(proxy);
  const s = proxy.settings;
  const lat = (/** @type {any} */ x) =>
    x?.latencyMs ? `${fmt(x.latencyMs.p50, 1)} / ${fmt(x.latencyMs.p99, 1)}` : 'n/a';
  const errors = (/** @type {any} */ x) => (x && !x.failed ? x.errors + x.non2xx + x.timeouts : 'n/a');
  const rows50 = f.names.map((name) => {
    const [p, st] = MODES.map((m) => f.at(name, m, 50));
    return [
      f.label(name),
      f.cell(name, 'plain', 50),
      f.cell(name, 'stream', 50),
      lat(p),
      lat(st),
      `${fmt(p?.cpuMicrosPerRequest)} / ${fmt(st?.cpuMicrosPerRequest)}`,
      `${errors(p)} / ${errors(st)}`,
      name === 'express' ? 'reference' : `${pct(p?.throughputOfExpress)} / ${pct(st?.throughputOfExpress)}`,
    ];
  });
  const one = s.connections.includes(1)
    ? table(
        ['target', 'p50 plain ms', 'p50 streamed ms', 'p99 plain / streamed ms', 'req/s plain / streamed'],
        f.names
          .filter((name) => f.at(name, 'plain', 1) || f.at(name, 'stream', 1))
          .map((name) => {
            const [p, st] = MODES.map((m) => f.at(name, m, 1));
            return [
              f.label(name),
              fmt(p?.latencyMs?.p50, 3),
              fmt(st?.latencyMs?.p50, 3),
              `${fmt(p?.latencyMs?.p99, 2)} / ${fmt(st?.latencyMs?.p99, 2)}`,
              `${f.cell(name, 'plain', 1)} / ${f.cell(name, 'stream', 1)}`,
            ];
          }),
      )
    : 'Not run at 1 connection in this run.';
  const plain = f.goal('plain');
  const stream = f.goal('stream');
  const features = proxy.features
    .map((/** @type {any} */ x) => `${x.name} ${x.on ? 'on' : '**off**'} (${x.how})`)
    .join('; ');
  const peers = proxy.targets
    .filter((/** @type {any} */ t) => ['litellm', 'portkey'].includes(t.name))
    .map((/** @type {any} */ t) => {
      if (t.failed) return `- **${t.label}** did not run: ${t.failed.split('\n')[0]}`;
      const failedModes = MODES.filter((m) => t.probes?.[m] && !t.probes[m].ok);
      const lines = [`- **${t.label}**: ${t.notes.join('; ')}.`];
      for (const m of failedModes)
        lines.push(
          `  ${m === 'stream' ? 'Streamed' : 'Plain'} requests failed its check: \`${t.probes[m].error.slice(0, 200)}\`.`,
        );
      const printed = (t.errorLines ?? []).filter((/** @type {string} */ l) => !l.startsWith('{'));
      if (printed.length) lines.push(`  It printed: \`${printed[printed.length - 1].slice(0, 300)}\`.`);
      return lines.join('\n');
    });
  return [
    "The gateway's main job: `POST /v1/chat/completions`, plain and streamed, through each target to one fast local OpenAI-style upstream " +
      `(\`bench/proxy/upstream.mjs\`: it answers at once, reports \`usage\`, and streams ${s.upstreamChunks} content chunks, a finish chunk, the usage chunk when ` +
      '`stream_options.include_usage` is set, then `data: [DONE]`). The client sends a two-message chat ' +
      `(${s.requestBytes.plain} bytes; streamed adds \`"stream": true\` and no \`stream_options\`, as SDKs do by default) for model \`${s.model}\`.`,
    '',
    '- **Targets**, one process each: the upstream directly (the ceiling); a bare node:http proxy (`bench/proxy/floor-node-http.mjs`: read the body, forward with a ' +
      'keep-alive agent, pipe the answer back); a bare express 5 proxy (`bench/proxy/floor-express.mjs`: `express.json()`, the same forwarding), the reference of the ' +
      'goal; modelgate the production way (`dist/bin/modelgate-app.js`, PostgreSQL migrated and the artifact resolved by `modelgate-init all`, a user and API key made ' +
      'through the admin API, `LOG_LEVEL=info` with its log lines going to a file); LiteLLM and Portkey, installed by the benchmark into `bench/.peers/`.',
    `- **Features of modelgate in this run**: ${features}.`,
    `- **Load**: autocannon in the harness process (same cores as every target). ${s.connections.map((/** @type {number} */ c) => `${c} connection${c === 1 ? '' : 's'}: ${s.rounds[c]} round${s.rounds[c] === 1 ? '' : 's'} of ${s.secondsPerRun[c]} s`).join('; ')} per target and mode, after a ${s.warmupSeconds} s warm-up at 50; ` +
      'the targets take turns within each round, in an order rotated every round, so drift of the shared machine reaches all of them alike. Latencies are recorded per ' +
      'answer to the microsecond; the table gives medians over the rounds, and each ratio is the median of the per-round ratios against the bare express proxy of the same round.',
    '- **CPU per request**: the CPU time the target process used during the rounds divided by the requests it answered: what it costs on this machine, less sensitive to the other work on it than req/s.',
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
    `- modelgate at least 75% of the bare express proxy's requests/s: plain ${pct(plain?.throughputOfExpress)} (${met(plain?.throughputMet)}), streamed ${pct(stream?.throughputOfExpress)} (${met(stream?.throughputMet)}).`,
    `- p99 at most 1.5x the bare express proxy's: plain ${times(plain?.p99OfExpress)} (${met(plain?.p99Met)}), streamed ${times(stream?.p99OfExpress)} (${met(stream?.p99Met)}).`,
    `- At one connection, at most 0.5 ms p50 over the upstream directly: plain ${fmt(plain?.addedP50AtOneConnectionMs, 3)} ms (${met(plain?.addedP50Met)}), streamed ${fmt(stream?.addedP50AtOneConnectionMs, 3)} ms (${met(stream?.addedP50Met)}).`,
    `- The goals are meant with every feature on. ${(() => {
      const off = proxy.features
        .filter((/** @type {any} */ x) => !x.on)
        .map((/** @type {any} */ x) => x.name);
      return off.length
        ? `Not in this build yet, so not measured: ${off.join(', ')}.`
        : 'All of them were on in this run.';
    })()}`,
    '',
    '### Peers',
    '',
    ...peers,
    '',
    'Where modelgate spends its time: `node bench/profile.mjs proxy` runs it under the same load with `--cpu-prof` and writes a summary by package and function ' +
      '(`bench/results/profiles/`); `--target express` profiles the floor the same way.',
  ].join('\n');
}

/** @param {any} proxy @returns {Record<string, object>} chart file -> vega-lite spec */
export function proxyCharts(proxy) {
  const f = facts(proxy);
  const values = [];
  for (const name of f.names)
    for (const mode of MODES) {
      const s = f.at(name, mode, 50);
      if (s && !s.failed && s.requestsPerSecond > 0)
        values.push({
          target: f.label(name),
          mode: mode === 'plain' ? 'plain' : 'streamed',
          rps: s.requestsPerSecond,
        });
    }
  return {
    'proxy-throughput.svg': {
      width: 420,
      height: 260,
      config: {
        font: 'sans-serif',
        view: { stroke: null },
        legend: { labelLimit: 320 },
        axis: { labelLimit: 300 },
      },
      title: 'Chat completions, 50 connections: requests/s (log scale)',
      data: { values },
      mark: 'bar',
      encoding: {
        y: { field: 'target', type: 'nominal', title: null, sort: f.names.map(f.label) },
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
    },
  };
}

import fs from 'node:fs';
import path from 'node:path';
import {
  headline,
  HEADLINE_END,
  HEADLINE_START,
  readmeHeadline,
  replaceReadmeHeadline,
} from '../../bench/report/headline.mjs';
import { benchmarksPage } from '../../bench/report/page.mjs';
import { readResults, reduceResults } from '../../bench/report/reduce.mjs';

// Results in the shape bench/run.mjs, bench/startup.mjs and bench/api.mjs write them (N = 1 and 32 only); proxy.json
// is a whole `npm run bench:proxy` run (5 rounds at 50 connections, 4 at 1) on a loaded machine.
const fixtures = path.join(__dirname, '..', 'fixtures', 'bench');
const results = () => readResults(fixtures);

/** The parts of proxy.json's rounds and targets that the tests below change. */
interface ProxyRun {
  target: string;
  mode: string;
  connections: number;
  round: number;
  requestsPerSecond: number;
  cpuMicrosPerRequest: number;
  latencyMs: { p50: number; p99: number };
}
interface ProxyTarget {
  name: string;
  label: string;
  failed?: string;
  probes: Record<string, { ok: boolean; status?: number; error?: string; sample?: string }>;
}
const proxyOf = (r: ReturnType<typeof results>) => r.proxy as { runs: ProxyRun[]; targets: ProxyTarget[] };
/** The fixture's results with another target run like modelgate in the same rounds, its figures changed by `change`. */
function withModelgateLike(
  name: string,
  label: string,
  change: (run: ProxyRun) => Partial<ProxyRun> & object,
) {
  const changed = results();
  const proxy = proxyOf(changed);
  const modelgate = proxy.targets.find((t) => t.name === 'modelgate')!;
  proxy.targets.push({ ...modelgate, name, label });
  const runs = proxy.runs.filter((r) => r.target === 'modelgate');
  proxy.runs.push(...runs.map((r) => ({ ...r, ...change(r), target: name })));
  return changed;
}

describe('bench report: reducing the results', () => {
  const f = reduceResults(results());

  it("takes the storm medians per design and N, the N = 32 / N = 1 ratio and modelgate's time over the floor's against their goals", () => {
    const storm = f.storm!;
    expect([storm.smallest, storm.largest]).toEqual([1, 32]);
    expect(storm.designs.modelgate!.allReadyAtLargest).toBe(10_300);
    expect(storm.designs.modelgate!.allReadyAtSmallest).toBe(2655);
    expect(storm.ratio).toBeCloseTo(10_300 / 2655, 6);
    // The floor's median of 3800, 3800 and 3600 ms at N = 32.
    expect(storm.overFloor).toBeCloseTo(10_300 / 3800, 6);
    expect(storm.goals).toEqual({
      oneSourceRequest: true,
      noFailures: true,
      exactlyOnce: true,
      ratio: false,
      overFloor: false,
    });
    // Not every origin pod was ready at N = 32: no median, no ratio.
    expect(storm.designs['pid-mod-4']!.allReadyAtLargest).toBeNull();
    expect(storm.designs['pid-mod-4']!.ratio).toBeNull();
    expect(storm.rows).toHaveLength(16);
  });

  it('judges the outage scenarios against the healthy one, and the goals of start-up and API', () => {
    const outage = f.outage!;
    expect(outage.healthy!.allReadyMs).toBe(3000);
    expect(
      outage.failing.map((o: { name: string; sameTimeAsHealthy: boolean }) => [o.name, o.sameTimeAsHealthy]),
    ).toEqual([
      ['down', true],
      ['slow (30 s)', true],
      ['slow (30 s), no fallback allowance', false],
    ]);
    expect(f.startup!.ratioMet).toBe(false);
    expect(f.startup!.rssMet).toBe(true);
    expect([f.api!.ratioMet, f.api!.p99Met]).toEqual([true, true]);
  });

  it("takes the real node's scale-up from the e2e suite's figures, and leaves it out when the suite did not run", () => {
    expect(f.node).toEqual({
      from: 1,
      to: 8,
      allReadyMs: 21437,
      sourceRequests: 1,
      at: '2026-12-02T10:27:22.322Z',
    });
    expect(reduceResults({ ...results(), 'e2e-node': undefined }).node).toBeUndefined();
  });

  it('takes the proxy medians over the rounds, and the share of the bare express proxy round by round', () => {
    const proxy = f.proxy!;
    expect(proxy.targets.map((t) => t.name)).toEqual([
      'upstream',
      'node-http',
      'express',
      'modelgate',
      'litellm',
      'portkey',
    ]);
    const modelgate = proxy.at('modelgate', 'plain', 50)!;
    const express = proxy.at('express', 'plain', 50)!;
    // Medians of the 5 rounds: 326.1, 902.8, 867.3, 699.2, 408.9 and 1018.1, 1709, 1905.8, 1209, 1192.6.
    expect([modelgate.requestsPerSecond, express.requestsPerSecond]).toEqual([699.2, 1209]);
    expect([modelgate.rounds, modelgate.errors, modelgate.cpuMicrosPerRequest]).toEqual([5, 0, 980]);
    // The median of the per-round ratios (0.32, 0.528, 0.455, 0.578, 0.343), not the ratio of the medians (0.578).
    expect(modelgate.throughputOfExpress).toBe(0.455);
    expect(proxy.goals).toEqual({
      plain: {
        throughputOfExpress: 0.455,
        throughputMet: false,
        p99OfExpress: 2.318,
        p99Met: false,
        addedP50AtOneConnectionMs: 0.768,
        addedP50Met: false,
      },
      stream: {
        throughputOfExpress: 0.768,
        throughputMet: true,
        p99OfExpress: 1.566,
        p99Met: false,
        addedP50AtOneConnectionMs: 0.902,
        addedP50Met: false,
      },
    });
    expect(proxy.met).toEqual({ throughput: false, p99: false, addedP50: false });
    expect(proxy.featuresOff).toEqual(['routing', 'limits', 'usage ledger']);
  });

  it("reports a proxy mode whose check failed as failed, with the error and the target's last printed line", () => {
    const portkey = f.proxy!.targets.find((t) => t.name === 'portkey')!;
    expect(portkey.at.stream![50]).toEqual({ failed: true });
    expect(portkey.at.plain![50]).toMatchObject({ failed: false, requestsPerSecond: 338.2 });
    expect(portkey.failedChecks).toEqual([{ mode: 'stream', error: expect.stringContaining('HTTP 500') }]);
    expect(portkey.lastPrinted).toContain('TypeError: immutable');
    expect(portkey.peer).toBe(true);
  });

  it('judges the proxy goals against their thresholds, and leaves a goal unjudged when a mode was not measured', () => {
    const faster = results();
    const round = (target: string, mode: string, connections: number, n: number) =>
      proxyOf(faster).runs.find(
        (r) => r.target === target && r.mode === mode && r.connections === connections && r.round === n,
      )!;
    for (const run of proxyOf(faster).runs.filter((r) => r.target === 'modelgate')) {
      const express = round('express', run.mode, run.connections, run.round);
      const upstream = round('upstream', run.mode, run.connections, run.round);
      run.requestsPerSecond = express.requestsPerSecond * 0.8;
      run.latencyMs.p99 = express.latencyMs.p99 * 1.4;
      run.latencyMs.p50 = upstream.latencyMs.p50 + 0.4;
    }
    const met = reduceResults(faster).proxy!;
    expect(met.goals.plain).toMatchObject({ throughputOfExpress: 0.8, throughputMet: true, p99Met: true });
    expect(met.goals.stream.addedP50AtOneConnectionMs).toBeCloseTo(0.4, 6);
    expect(met.met).toEqual({ throughput: true, p99: true, addedP50: true });

    const broken = results();
    const modelgate = proxyOf(broken).targets.find((t) => t.name === 'modelgate')!;
    modelgate.probes.stream = { ok: false, status: 502, error: 'HTTP 502: upstream', sample: '' };
    const litellm = proxyOf(broken).targets.find((t) => t.name === 'litellm')!;
    litellm.failed = 'install failed: pip could not reach the index\nmore output';
    const unmeasured = reduceResults(broken);
    expect(unmeasured.proxy!.goals.stream).toMatchObject({
      throughputMet: null,
      p99Met: null,
      addedP50Met: null,
    });
    // A goal missed in the plain mode is missed, whether or not the streamed mode was measured...
    expect(unmeasured.proxy!.met).toEqual({ throughput: false, p99: false, addedP50: false });
    // ...and one met in the plain mode is not judged until the streamed mode is measured too.
    proxyOf(faster).targets.find((t) => t.name === 'modelgate')!.probes.stream!.ok = false;
    expect(reduceResults(faster).proxy!.met).toEqual({ throughput: null, p99: null, addedP50: null });
    const page = benchmarksPage(unmeasured);
    expect(page).toContain('| modelgate | 699 | failed |');
    expect(page).toContain('plain 46% (**not met**), streamed n/a (n/a)');
    expect(page).toContain(
      '- **LiteLLM proxy 1.110.2** did not run: install failed: pip could not reach the index\n',
    );
    expect(page).toContain('LiteLLM failed to start / failed to start; Portkey 338 / failed');
  });

  it('compares modelgate with a baseline build loaded in the same rounds, round by round', () => {
    expect(f.proxy!.againstBaseline).toBeNull();
    const withBaseline = withModelgateLike(
      'modelgate-baseline',
      'modelgate, baseline build (BENCH_PROXY_BASELINE)',
      (r) => ({
        requestsPerSecond: r.requestsPerSecond / 1.25,
        cpuMicrosPerRequest: r.cpuMicrosPerRequest * 1.1,
        latencyMs: { ...r.latencyMs, p50: r.latencyMs.p50 * 2 },
      }),
    );
    const reduced = reduceResults(withBaseline);
    expect(reduced.proxy!.againstBaseline).toMatchObject([
      {
        connections: 50,
        plain: { rounds: 5, throughput: 1.25, cpuPerRequest: 0.909, p50: 0.5 },
        stream: { rounds: 5, throughput: 1.25, cpuPerRequest: 0.909, p50: 0.5 },
      },
      {
        connections: 1,
        plain: { rounds: 4, throughput: 1.25, cpuPerRequest: 0.909, p50: 0.5 },
        stream: { rounds: 4, throughput: 1.25, cpuPerRequest: 0.909, p50: 0.5 },
      },
    ]);
    const page = benchmarksPage(reduced);
    expect(page).toContain('### Against the baseline build');
    expect(page).toContain('| 50 | 1.25x / 1.25x | 0.91x / 0.91x | 0.5x / 0.5x |');
    expect(page).toContain('| modelgate, baseline build (BENCH_PROXY_BASELINE) |');
  });

  it('gives what limits and the usage ledger cost: modelgate against the same build with them off, round by round', () => {
    expect(f.proxy!.limitsCost).toBeNull();
    const withOff = withModelgateLike(
      'modelgate-no-limits',
      'modelgate, limits and usage ledger off (same build)',
      (r) => {
        Object.assign(r, { databaseCpuMicrosPerRequest: 60 });
        return {
          requestsPerSecond: r.requestsPerSecond * 1.25,
          cpuMicrosPerRequest: r.cpuMicrosPerRequest - 100,
          databaseCpuMicrosPerRequest: 10,
          latencyMs: { ...r.latencyMs, p50: r.latencyMs.p50 - 0.25 },
        };
      },
    );
    const reduced = reduceResults(withOff);
    const cost = { throughput: 0.8, p50AddedMs: 0.25, cpuAddedMicros: 100, databaseCpuAddedMicros: 50 };
    expect(reduced.proxy!.limitsCost).toMatchObject([
      { connections: 50, plain: { rounds: 5, ...cost }, stream: { rounds: 5, ...cost } },
      { connections: 1, plain: { rounds: 4, ...cost }, stream: { rounds: 4, ...cost } },
    ]);
    const page = benchmarksPage(reduced);
    expect(page).toContain('### What limits and the usage ledger cost');
    expect(page).toContain('| 1 | 0.25 / 0.25 | 100 / 100 | 50 / 50 | 0.8x / 0.8x |');
    expect(page).toContain(
      '| reference | +0.25 / +0.25 ms; app +100 / +100 µs, PostgreSQL +50 / +50 µs; 0.8x / 0.8x |',
    );
    expect(page).toContain('| modelgate, limits and usage ledger off (same build) |');
  });

  it("judges the soak's RSS: growth beyond noise fails the goal, a slope at 0 or below it does not", () => {
    const withRss = (rss: Record<string, unknown>) => {
      const changed = results();
      changed.soak.rss = { ...changed.soak.rss, ...rss };
      return reduceResults(changed);
    };
    const rising = { slopeMiBPerMinute: 0.9, slopeCi95MiBPerMinute: [0.7, 1.1], fittedGrowthMiB: 8 };
    const falling = { slopeMiBPerMinute: -0.8, slopeCi95MiBPerMinute: [-1.0, -0.6], fittedGrowthMiB: -7 };
    const level = { slopeMiBPerMinute: 0.1, slopeCi95MiBPerMinute: [-0.1, 0.3], fittedGrowthMiB: 1 };
    expect([rising, falling, level].map((rss) => withRss(rss).soak!.noGrowth)).toEqual([false, true, true]);
    const page = (rss: Record<string, unknown>) => benchmarksPage(withRss(rss));
    expect(page(falling)).toMatch(
      /"no growth beyond noise" \([^)]*\): met\..*negative beyond its confidence interval \(RSS fell/,
    );
    expect(page(rising)).toMatch(
      /"no growth beyond noise" \([^)]*\): \*\*not met\*\*\..*positive beyond its confidence interval \(growth beyond noise\)/,
    );
  });

  it('sums the failover cells against the 0-failure goal and keeps the time one failover adds', () => {
    expect([f.failover!.requests, f.failover!.failures, f.failover!.failuresMet]).toEqual([1758, 0, true]);
    expect(f.failover!.added.map((a: { addedMs: number }) => a.addedMs)).toEqual([4.918, 4.13, 0.755]);
    const broken = results();
    broken.failover.table[5].failures = 3;
    expect(reduceResults(broken).failover!.failuresMet).toBe(false);
  });

  it('describes the machine from machine.json: cores, model, load', () => {
    expect(f.machine).toMatchObject({
      cpus: 2,
      cpuModel: 'AMD EPYC',
      shared: true,
      commit: expect.any(String),
    });
  });
});

describe('bench report: rendering the figures', () => {
  it('renders every section of docs/benchmarks.md from the results', () => {
    const page = benchmarksPage(reduceResults(results()));
    for (const title of [
      'Headline',
      'Machine and conditions',
      'Cold-start storm',
      'Warm restart',
      'Source outage',
      'Hot reload under load',
      'SIGTERM under load',
      'Soak',
      'Start-up',
      'API throughput',
      'Chat completions through the gateway, beside floors and peers',
      'Failover',
      'Model-name rewrite',
      'Limits',
    ])
      expect(page).toContain(`\n## ${title}\n`);
    expect(page).not.toContain('Not run');
    expect(page).toContain(
      '| Real node (kubelet, containerd, runc; `npm run test:e2e`), 1 → 8 replicas: all ready; source requests | 1 request | 21.4 s; 1 source req. |',
    );
    expect(page).toContain(
      '- 2 × AMD EPYC, 23.5 GiB memory, Linux 6.18.44-fc-v857, Node.js v20.20.2, PostgreSQL 18.4',
    );
    expect(page).toContain(
      "all-ready time at N = 32 at most 1.5x that of N = 1: 3.88x, **not met**; all-ready time at N = 32 at most 2x the floor design's in the same run: 2.71x, **not met**.",
    );
    expect(page).toContain('| modelgate ≤ 2x the floor | 3.8 s; 1.75x; modelgate 2.71x (**not met**) |');
    expect(page).toContain(
      '| plain, 50 connections | 503, then healthy | 51 | 0 | 26 | 543 | 2178 | connect 23, status_5xx 82 |',
    );
    expect(page).toContain('connect refused, then healthy **4.918 ms** (per round: 4.918)');
    expect(page).toContain('load average (1 min) 4.7 at the start and 5.1 at the end on 2 cores; ');
    expect(page).toContain('costs **2938 ns per chunk** over passing it on');
    expect(headline(reduceResults(results()))).toContain('0 of 1758 (met); connect refused 4.918 ms');
    // The proxy run came after the full run: the machine section names it with its own load and commit.
    expect(page).toContain('proxy 08:17–08:26 UTC, load 3.94 → 2.19 (commit bbf4b8a448bb)');
  });

  it('words the proxy figures: the tables at 50 and 1 connections, the goals, the peers and the headline rows', () => {
    const page = benchmarksPage(reduceResults(results()));
    expect(page).toContain(
      '| modelgate | 699 | 679 | 62.7 / 202.3 | 65.8 / 157.3 | 980 / 1,057 | 0 / 0 | 46% / 77% |',
    );
    expect(page).toContain('| bare express 5 proxy (floor, the reference) | 1,209 | 937 |');
    expect(page).toContain('| modelgate | 0.89 | 1.072 | 4.73 / 5.04 | 997 / 844 |');
    expect(page).toContain(
      "- modelgate at least 75% of the bare express proxy's requests/s: plain 46% (**not met**), streamed 77% (met).",
    );
    expect(page).toContain(
      '- At one connection, at most 0.5 ms p50 over the upstream directly: plain 0.768 ms (**not met**), streamed 0.902 ms (**not met**).',
    );
    expect(page).toContain('Off in this run, so not measured: routing, limits, usage ledger.');
    expect(page).toContain('Streamed requests failed its check: `HTTP 500:');
    expect(page).toContain('![chat completions at 50 connections](benchmarks/proxy-throughput.svg)');
    expect(page).toContain(
      '| Chat completions at 50 connections, plain / streamed: req/s; share of a bare express proxy (median of the rounds); p99 against its p99 | ≥ 75%; ≤ 1.5x | 699 / 679 req/s (bare express 1,209 / 937); 46% / 77% (**not met**); p99 2.32x / 1.57x (**not met**) |',
    );
    expect(page).toContain('| ≤ 0.5 ms | 0.77 / 0.9 ms (**not met**) |');
    expect(page).toContain('| reference | LiteLLM 29 / 11; Portkey 338 / failed |');
  });

  it('says what another machine was, not what this one is: no fixed prose about the machine', () => {
    const other = results();
    other.machine = {
      ...other.machine,
      start: { ...other.machine.start, cpus: 16, cpuModel: 'Test CPU 9000', loadAverage: [0.5, 0.4, 0.3] },
    };
    other.failover = { ...other.failover, cpus: 16 };
    other.limiter = {
      ...other.limiter,
      machine: { ...other.limiter.machine, cpus: 16, cpuModel: 'Test CPU 9000' },
    };
    const f = reduceResults(other);
    const page = benchmarksPage(f);
    expect(page).toContain('- 16 × Test CPU 9000,');
    expect(page).toContain('otherwise idle at the start (a 1-minute load average of 0.5 on 16 cores)');
    expect(page).toContain('on one 16-core machine');
    expect(page).not.toMatch(/2-core|2 cores|shared with other work|other engineers/);
    expect(page.slice(page.indexOf('## Chat completions'))).not.toMatch(/shared|2 cores|AMD/);
    const block = readmeHeadline(f);
    expect(block).toContain('Measured on 16 × Test CPU 9000 (load average 0.5 at the start)');
    expect(block).not.toMatch(/2-core|shared/);
  });

  it("names the run's own benchmark as the load at the start when it ended just before, not other work", () => {
    // The fixture's api benchmark ended 4 s before bench/run.mjs started, its limiter hours before.
    const f = reduceResults(results());
    expect(f.machine).toMatchObject({ shared: true, afterOwnBenchmarks: ['api'] });
    const page = benchmarksPage(f);
    expect(page).toContain(
      "when the storm began, right after the api benchmark of the same `npm run bench` (the run's own load, at least in part)",
    );
    expect(page).not.toContain('Other work ran on the machine');
    const block = readmeHeadline(f);
    expect(block).toMatch(/\(load average [\d.]+ at the start, just after the run's own first benchmarks\)/);
    expect(block).not.toContain('other work running');
    // With nothing of the run just before, a busy start is other work.
    const alone = results();
    alone.api = { ...alone.api, finishedAt: '2026-12-01T00:15:00.000Z' };
    const other = reduceResults(alone);
    expect(other.machine?.afterOwnBenchmarks).toEqual([]);
    expect(benchmarksPage(other)).toContain('Other work ran on the machine (a 1-minute load average of');
    expect(readmeHeadline(other)).toContain('other work running');
  });

  it('writes only a few rows into the README, between its markers, and leaves the rest of the README alone', () => {
    const f = reduceResults(results());
    const readme = `# Title\n\nbefore\n\n${HEADLINE_START}\nold\n${HEADLINE_END}\n\nafter\n`;
    const updated = replaceReadmeHeadline(readme, f);
    expect(updated.startsWith('# Title\n\nbefore\n\n')).toBe(true);
    expect(updated.endsWith('\n\nafter\n')).toBe(true);
    const rows = readmeHeadline(f)
      .split('\n')
      .filter(
        (line) => line.startsWith('| ') && !line.startsWith('| Benchmark') && !line.startsWith('| ---'),
      );
    expect(rows.length).toBeLessThanOrEqual(8);
    expect(rows[0]).toContain('Cold-start storm, N = 32');
    expect(rows.at(-1)).toContain('Chat completions at 50 connections');
    expect(replaceReadmeHeadline('# no block\n', f)).toBe('# no block\n');
  });

  it('keeps the README block in the shape the generator writes', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    const start = readme.indexOf(HEADLINE_START);
    const end = readme.indexOf(HEADLINE_END);
    expect(start).toBeGreaterThan(0);
    const block = readme.slice(start, end + HEADLINE_END.length).split('\n');
    const generated = readmeHeadline(reduceResults(results())).split('\n');
    // Same header, same row titles in the same order, same closing lines; the figures (N included) and the machine
    // they were measured on are the last run's.
    const titles = (lines: string[]) =>
      lines.map((line) =>
        line
          .split(' | ')[0]!
          .replace(/^Measured on .+? \(load average/, 'Measured on <machine> (load average')
          .replace(/[\d.]+/g, '#'),
      );
    expect(titles(block)).toEqual(titles(generated));
  });
});

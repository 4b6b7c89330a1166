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

// Results in the shape bench/run.mjs, bench/startup.mjs and bench/api.mjs write them (N = 1 and 32 only).
const fixtures = path.join(__dirname, '..', 'fixtures', 'bench');
const results = () => readResults(fixtures);

describe('bench report: reducing the results', () => {
  const f = reduceResults(results());

  it('takes the storm medians per design and N, and the N = 32 / N = 1 ratio against its goal', () => {
    const storm = f.storm!;
    expect([storm.smallest, storm.largest]).toEqual([1, 32]);
    expect(storm.designs.modelgate!.allReadyAtLargest).toBe(10_300);
    expect(storm.designs.modelgate!.allReadyAtSmallest).toBe(2655);
    expect(storm.ratio).toBeCloseTo(10_300 / 2655, 6);
    expect(storm.goals).toEqual({
      oneSourceRequest: true,
      noFailures: true,
      exactlyOnce: true,
      ratio: false,
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
      'Failover',
      'Model-name rewrite',
      'Limits',
    ])
      expect(page).toContain(`\n## ${title}\n`);
    expect(page).not.toContain('Not run');
    expect(page).toContain(
      '- 2 × AMD EPYC, 23.5 GiB memory, Linux 6.18.44-fc-v857, Node.js v20.20.2, PostgreSQL 18.4',
    );
    expect(page).toContain('all-ready time at N = 32 at most 1.5x that of N = 1: 3.88x, **not met**.');
    expect(page).toContain(
      '| plain, 50 connections | 503, then healthy | 51 | 0 | 26 | 543 | 2178 | connect 23, status_5xx 82 |',
    );
    expect(page).toContain('connect refused, then healthy **4.918 ms** (per round: 4.918)');
    expect(page).toContain('load average (1 min) 4.7 at the start and 5.1 at the end on 2 cores; ');
    expect(page).toContain('costs **2938 ns per chunk** over passing it on');
    expect(headline(reduceResults(results()))).toContain('0 of 1758 (met); connect refused 4.918 ms');
  });

  it('says what another machine was, not what this one is: no fixed prose about the machine', () => {
    const other = results();
    other.machine = {
      ...other.machine,
      start: { ...other.machine.start, cpus: 16, cpuModel: 'Test CPU 9000', loadAverage: [0.5, 0.4, 0.3] },
    };
    other.failover = { ...other.failover, cpus: 16 };
    const f = reduceResults(other);
    const page = benchmarksPage(f);
    expect(page).toContain('- 16 × Test CPU 9000,');
    expect(page).toContain('otherwise idle at the start (a 1-minute load average of 0.5 on 16 cores)');
    expect(page).toContain('on one 16-core machine');
    expect(page).not.toMatch(/2-core|2 cores|shared with other work|other engineers/);
    const block = readmeHeadline(f);
    expect(block).toContain('Measured on 16 × Test CPU 9000 (load average 0.5 at the start)');
    expect(block).not.toMatch(/2-core|shared/);
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
    expect(rows.length).toBeLessThanOrEqual(7);
    expect(rows[0]).toContain('Cold-start storm, N = 32');
    expect(replaceReadmeHeadline('# no block\n', f)).toBe('# no block\n');
  });

  it('keeps the README block in the shape the generator writes', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    const start = readme.indexOf(HEADLINE_START);
    const end = readme.indexOf(HEADLINE_END);
    expect(start).toBeGreaterThan(0);
    const block = readme.slice(start, end + HEADLINE_END.length).split('\n');
    const generated = readmeHeadline(reduceResults(results())).split('\n');
    // Same header, same row titles in the same order, same closing lines; the figures (N included) are the last run's.
    const titles = (lines: string[]) => lines.map((line) => line.split(' | ')[0]!.replace(/[\d.]+/g, '#'));
    expect(titles(block)).toEqual(titles(generated));
  });
});

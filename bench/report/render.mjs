// @ts-check
// `node bench/run.mjs report`: bench/results/*.json reduced to figures (reduce.mjs), then written as
// docs/benchmarks.md, its charts (charts.mjs) and the README's headline block (headline.mjs).
import fs from 'node:fs';
import path from 'node:path';
import { chartsDir, docsDir, log, repoRoot, resultsDir } from '../lib/common.mjs';
import { writeCharts } from './charts.mjs';
import { replaceReadmeHeadline } from './headline.mjs';
import { benchmarksPage } from './page.mjs';
import { readResults, reduceResults } from './reduce.mjs';

/** Reads every result, draws the charts, writes docs/benchmarks.md and the README's headline block. */
export async function renderReport() {
  const results = readResults(resultsDir);
  const figures = reduceResults(results);
  const charts = await writeCharts(results, chartsDir);
  fs.mkdirSync(docsDir, { recursive: true });
  fs.writeFileSync(path.join(docsDir, 'benchmarks.md'), benchmarksPage(figures));
  log(`wrote docs/benchmarks.md and ${charts.length} charts in docs/benchmarks/`);
  const readme = path.join(repoRoot, 'README.md');
  const text = fs.readFileSync(readme, 'utf8');
  const updated = replaceReadmeHeadline(text, figures);
  if (updated !== text) {
    fs.writeFileSync(readme, updated);
    log('updated the README headline block');
  }
}

// @ts-check
// Paths, settings and small helpers shared by every benchmark.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../../test/support/temp.mjs';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const resultsDir = path.join(repoRoot, 'bench', 'results');
export const docsDir = path.join(repoRoot, 'docs');
export const chartsDir = path.join(docsDir, 'benchmarks');

/** BENCH_QUICK=1: small N and short durations, for smoke runs; the report says which mode produced it. */
export const quick = process.env.BENCH_QUICK === '1';

/** @param {number} ms */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A sleep that does not keep the process alive: for deadlines raced against something that does. */
export const deadlineSleep = (/** @type {number} */ ms) =>
  new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Milliseconds on a monotonic clock. */
export const now = () => performance.now();

/** @param {string} message */
export function log(message) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** A fresh scratch directory under the OS temp dir, removed by the caller (or at the end of the run). */
export function scratchDir(/** @type {string} */ prefix) {
  return tempDir(`bench-${prefix}`);
}

/**
 * Writes one benchmark's results as bench/results/<name>.json, with the mode and time of the run.
 * @param {string} name
 * @param {unknown} data
 */
export function writeResult(name, data) {
  fs.mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${name}.json`);
  const body = {
    benchmark: name,
    quick,
    finishedAt: new Date().toISOString(),
    .../** @type {object} */ (data),
  };
  fs.writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`);
  log(`wrote ${path.relative(repoRoot, file)}`);
  return file;
}

/** @param {string} name @returns {any} the parsed results file, or undefined when that benchmark has not run */
export function readResult(name) {
  const file = path.join(resultsDir, `${name}.json`);
  if (!fs.existsSync(file)) return undefined;
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** @param {number[]} values @param {number} q quantile in [0, 1] (linear interpolation) */
export function quantile(values, q) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lower = Math.floor(pos);
  const upper = Math.ceil(pos);
  const low = sorted[lower] ?? NaN;
  const high = sorted[upper] ?? NaN;
  return low + (high - low) * (pos - lower);
}

export const median = (/** @type {number[]} */ values) => quantile(values, 0.5);

/** @param {number} value @param {number} digits */
export const round = (value, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;

/** The build the benchmarks run (`npm run bench` builds dist/ first); BENCH_DIST points at another build. */
export const distDir = path.resolve(repoRoot, process.env.BENCH_DIST ?? 'dist');

export const binaries = {
  init: path.join(distDir, 'bin', 'modelgate-init.js'),
  app: path.join(distDir, 'bin', 'modelgate-app.js'),
};

export function assertBuilt() {
  for (const file of Object.values(binaries)) {
    if (!fs.existsSync(file))
      throw new Error(`${path.relative(repoRoot, file)} is missing; run npm run build first`);
  }
}

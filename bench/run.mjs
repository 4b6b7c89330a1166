// @ts-check
// `npm run bench`: every benchmark of this folder against one PostgreSQL (and one kube-apiserver for the ConfigMap
// cache), then the report.
//   node bench/run.mjs [storm|warm|outage|reload|sigterm|soak|proxy|report ...]   (default: all of them, then report)
// BENCH_QUICK=1 runs the short variant (N up to 4, soak 30 s) for smoke runs. Runs against the build in dist/.
import { assertBuilt, distDir, log, quick, readResult, writeResult } from './lib/common.mjs';
import { startCluster } from './lib/kube.mjs';
import { describeBuild, describeMachine } from './lib/machine.mjs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { startModelSource } from './lib/model-source.mjs';
import { startPostgres } from './lib/postgres.mjs';
import { stopAll, stopOnInterrupt } from './lib/processes.mjs';
import { renderReport } from './report/render.mjs';
import { runOutage } from './outage.mjs';
import { runProxy } from './proxy.mjs';
import { runReload } from './reload.mjs';
import { runSigterm } from './sigterm.mjs';
import { runSoak } from './soak.mjs';
import { runStorm } from './storm.mjs';
import { runWarm } from './warm.mjs';

/** In the order they run; the ones that need the ConfigMap cache first, while the API server is up. */
const BENCHMARKS = {
  storm: { cluster: true, run: runStorm },
  warm: { cluster: true, run: runWarm },
  outage: { cluster: true, run: runOutage },
  reload: { cluster: false, run: runReload },
  sigterm: { cluster: false, run: runSigterm },
  soak: { cluster: false, run: runSoak },
  proxy: { cluster: false, run: runProxy },
};
const NAMES = /** @type {(keyof typeof BENCHMARKS)[]} */ (Object.keys(BENCHMARKS));

async function main() {
  const requested = process.argv.slice(2);
  const unknown = requested.filter((name) => name !== 'report' && !NAMES.includes(/** @type {any} */ (name)));
  if (unknown.length > 0) {
    console.error(`unknown benchmark ${unknown.join(', ')}; choose from ${[...NAMES, 'report'].join(', ')}`);
    process.exit(2);
  }
  const selected = requested.length > 0 ? NAMES.filter((name) => requested.includes(name)) : NAMES;
  const report = requested.length === 0 || requested.includes('report');
  if (selected.length > 0) await runBenchmarks(selected);
  if (report) await renderReport();
}

/** @param {(keyof typeof BENCHMARKS)[]} selected */
async function runBenchmarks(selected) {
  assertBuilt();
  log(`mode: ${quick ? 'quick (BENCH_QUICK=1)' : 'full'}; benchmarks: ${selected.join(', ')}`);
  const start = describeMachine();
  const pg = await startPostgres();
  const source = await startModelSource();
  const cluster = selected.some((name) => BENCHMARKS[name].cluster) ? await startCluster() : undefined;
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await stopAll();
    await source.close();
    await cluster?.stop();
    await pg.stop();
  };
  stopOnInterrupt(cleanup);
  try {
    const [{ version }] = await pg.query('postgres', 'SELECT version()');
    const { packageRoot } = createRequire(import.meta.url)(path.join(distDir, 'core', 'package-root.js'));
    const build = describeBuild(packageRoot());
    for (const name of selected) {
      log(`--- ${name}`);
      const before = describeMachine();
      const result = await BENCHMARKS[name].run(/** @type {any} */ ({ pg, source, cluster }));
      // Each benchmark keeps its own conditions: a partial re-run replaces only its files.
      writeResult(name, { ...result, conditions: { start: before, end: describeMachine(), build } });
    }
    // machine.json describes the last run of every benchmark; a partial re-run keeps it (each result has its conditions).
    if (selected.length === NAMES.length || !readResult('machine')) {
      writeResult('machine', {
        start,
        end: describeMachine(),
        postgres: String(version).split(',')[0],
        build,
      });
    }
  } finally {
    await cleanup();
  }
}

main().catch(async (error) => {
  console.error(error);
  await stopAll();
  process.exit(1);
});

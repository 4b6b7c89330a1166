// @ts-check
// Warm restart: the schema is current and the ConfigMap cache fresh, as for every pod after the first. A new pod
// (fresh emptyDir) must not ask the source at all; its init time is shown beside a bare `node -e ''`.
import fs from 'node:fs';
import { log, median, now, quantile, quick, round, scratchDir } from './lib/common.mjs';
import { podSpec } from './lib/designs.mjs';
import { runPod, stopPod } from './lib/pod.mjs';
import { stepMedians } from './storm.mjs';
import { spawnNode } from './lib/processes.mjs';
import { freePort } from '../test/support/ports.mjs';

export const WARM_RUNS = quick ? 3 : 10;

/** Module loads timed beside bare node, to show where a warm init's time goes. */
const MODULE_LOADS = [
  { what: "require('@kubernetes/client-node')", code: "require('@kubernetes/client-node')" },
  { what: "require('knex'), require('pg')", code: "require('knex'); require('pg')" },
];

/** @param {{ pg: import('./lib/postgres.mjs').BenchPostgres, source: import('./lib/model-source.mjs').ModelSource,
 *   cluster: import('./lib/kube.mjs').BenchCluster }} env */
export async function runWarm(env) {
  const ctx = {
    databaseUrl: await env.pg.createDatabase('warm'),
    sourceUrl: env.source.url,
    runDir: scratchDir('warm'),
    kubeconfig: env.cluster.kubeconfig,
    configMap: await env.cluster.createConfigMap('models-warm'),
    workerTimeoutMs: 30_000,
  };
  log('warm: a first pod fills the schema and the cache');
  const first = await runPod(podSpec('modelgate', 0, await freePort(), ctx), now() + 60_000);
  await stopPod(first);
  if (first.readyAt === undefined)
    throw new Error(`the first pod did not become ready:\n${first.runs.map((r) => r.output).join('\n')}`);

  env.source.reset();
  const initMs = [];
  const readyMs = [];
  const bareMs = [];
  /** @type {number[][]} */
  const moduleMs = [];
  const origins = [];
  /** @type {Record<string, number>[]} */
  const steps = [];
  for (let i = 1; i <= WARM_RUNS; i++) {
    const bare = spawnNode('bare-node', ['-e', ''], { PATH: process.env.PATH });
    const bareExit = await bare.exited;
    bareMs.push(bareExit.at - bare.startedAt);
    for (const [index, load] of MODULE_LOADS.entries()) {
      const child = spawnNode('module-load', ['-e', load.code], { PATH: process.env.PATH });
      const exit = await child.exited;
      if (exit.code !== 0) throw new Error(`${load.what} failed:\n${child.output()}`);
      (moduleMs[index] ??= []).push(exit.at - child.startedAt);
    }
    const pod = await runPod(podSpec('modelgate', i, await freePort(), ctx), now() + 60_000);
    await stopPod(pod);
    const init = pod.runs.find((r) => r.kind === 'init');
    if (pod.readyAt === undefined || !init?.exitedAt) throw new Error(`warm pod ${i} did not become ready`);
    initMs.push(init.exitedAt - init.startedAt);
    readyMs.push(pod.readyAt - pod.startedAt);
    const summary = init.output.split('\n').find((line) => line.includes('"summary"'));
    const parsed = summary ? JSON.parse(summary).summary : undefined;
    origins.push(parsed?.artifact.origin ?? 'unknown');
    if (parsed) steps.push(parsed.durations);
  }
  const stats = (/** @type {number[]} */ values) => ({
    medianMs: round(median(values), 1),
    p95Ms: round(quantile(values, 0.95), 1),
    runsMs: values.map((v) => round(v, 1)),
  });
  const result = {
    runs: WARM_RUNS,
    sourceRequests: env.source.requests(),
    artifactOrigins: origins,
    init: stats(initMs),
    podReady: stats(readyMs),
    bareNode: stats(bareMs),
    initOverBareNode: round(median(initMs) / median(bareMs), 2),
    moduleLoads: MODULE_LOADS.map((load, index) => ({ what: load.what, ...stats(moduleMs[index] ?? []) })),
    /** Seconds per step as init reports them; the rest of the wall time is process start and module loading. */
    initStepSecondsMedian: stepMedians(steps),
  };
  log(
    `warm: init median ${result.init.medianMs} ms (bare node ${result.bareNode.medianMs} ms), ${result.sourceRequests} source requests`,
  );
  fs.rmSync(ctx.runDir, { recursive: true, force: true });
  return result;
}

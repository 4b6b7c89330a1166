// @ts-check
// Source outage: the cache holds an artifact older than MODELS_MAX_AGE, so new pods must ask the source. With the
// source healthy, down (connections reset) or slow (30 s before answering), pods must still become ready, from the
// last-known-good artifact when the source fails. Time-to-ready is compared between the three.
import fs from 'node:fs';
import { log, now, quick, round, scratchDir } from './lib/common.mjs';
import { podSpec } from './lib/designs.mjs';
import { runPod, stopPod } from './lib/pod.mjs';
import { stopAll } from './lib/processes.mjs';
import { freePort } from '../test/support/ports.mjs';

export const OUTAGE_PODS = quick ? 2 : 4;
const DEADLINE_MS = Number(process.env.BENCH_OUTAGE_DEADLINE_MS ?? 240_000);

/** The scenarios: the source's behaviour and the init settings the pods run with. */
export const OUTAGE_SCENARIOS = [
  { name: 'healthy', mode: 'up', env: {} },
  { name: 'down', mode: 'down', env: {} },
  { name: 'slow (30 s)', mode: 'slow', env: {} },
  // What MODELS_FALLBACK_AFTER buys: the same outage with the source allowed every attempt in full (4 x 10 s).
  { name: 'slow (30 s), no fallback allowance', mode: 'slow', env: { MODELS_FALLBACK_AFTER: '60s' } },
];

/** @param {{ pg: import('./lib/postgres.mjs').BenchPostgres, source: import('./lib/model-source.mjs').ModelSource,
 *   cluster: import('./lib/kube.mjs').BenchCluster }} env */
export async function runOutage(env) {
  const ctx = {
    databaseUrl: await env.pg.createDatabase('outage'),
    sourceUrl: env.source.url,
    runDir: scratchDir('outage'),
    kubeconfig: env.cluster.kubeconfig,
    configMap: await env.cluster.createConfigMap('models-outage'),
    workerTimeoutMs: 30_000,
  };
  env.source.set({ mode: 'up' });
  const first = await runPod(podSpec('modelgate', 0, await freePort(), ctx), now() + 60_000);
  await stopPod(first);
  if (first.readyAt === undefined) throw new Error('outage: the first pod did not become ready');
  const cmName = ctx.configMap.split('/')[1] ?? '';
  const original = await env.cluster.readData(cmName);
  const cached = original['models.json'];
  if (!cached) throw new Error('outage: the ConfigMap holds no models.json after the first pod');

  const scenarios = [];
  let podIndex = 1;
  for (const scenario of OUTAGE_SCENARIOS) {
    await env.cluster.writeData(cmName, { 'models.json': agedArtifact(cached, 60 * 60 * 1000) });
    env.source.set({ mode: /** @type {'up'|'down'|'slow'} */ (scenario.mode) });
    env.source.reset();
    log(`outage: ${scenario.name}, ${OUTAGE_PODS} pods, cache 1 h old`);
    const specs = [];
    for (let i = 0; i < OUTAGE_PODS; i++) {
      const spec = podSpec('modelgate', podIndex++, await freePort(), ctx);
      Object.assign(/** @type {NodeJS.ProcessEnv} */ (spec.init?.env), scenario.env);
      specs.push(spec);
    }
    const t0 = now();
    const pods = await Promise.all(specs.map((spec) => runPod(spec, t0 + DEADLINE_MS)));
    await Promise.all(pods.map((pod) => stopPod(pod)));
    await stopAll();
    const readyMs = pods
      .filter((p) => p.readyAt !== undefined)
      .map((p) => round(/** @type {number} */ (p.readyAt) - t0, 0));
    const summaries = pods.flatMap((p) =>
      p.runs
        .filter((r) => r.kind === 'init')
        .flatMap((r) => r.output.split('\n').filter((l) => l.includes('"summary"'))),
    );
    /** @type {Record<string, number>} */
    const origins = {};
    for (const line of summaries) {
      const origin = JSON.parse(line).summary.artifact.origin;
      origins[origin] = (origins[origin] ?? 0) + 1;
    }
    const result = {
      name: scenario.name,
      sourceMode: scenario.mode,
      initEnv: scenario.env,
      pods: OUTAGE_PODS,
      allReady: readyMs.length === OUTAGE_PODS,
      allReadyMs: readyMs.length === OUTAGE_PODS ? Math.max(...readyMs) : null,
      readyMs: readyMs.sort((a, b) => a - b),
      sourceRequests: env.source.requests(),
      initFailures: pods.reduce((sum, p) => sum + p.initFailures, 0),
      initFailureErrors: summaries
        .map((line) => JSON.parse(line).summary)
        .filter((s) => s.exitCode !== 0)
        .map((s) => `exit ${s.exitCode}: ${s.error}`),
      artifactOrigins: origins,
    };
    log(
      `  ${readyMs.length}/${OUTAGE_PODS} ready${result.allReady ? ` in ${result.allReadyMs} ms` : ''}, origins ${JSON.stringify(origins)}`,
    );
    scenarios.push(result);
  }
  env.source.set({ mode: 'up' });
  fs.rmSync(ctx.runDir, { recursive: true, force: true });
  return { pods: OUTAGE_PODS, cacheAgeSeconds: 3600, deadlineMs: DEADLINE_MS, scenarios };
}

/**
 * The same artifact, checked `ageMs` ago: still valid (the sha256 covers the models only), but older than
 * MODELS_MAX_AGE, so init must ask the source.
 * @param {string} text @param {number} ageMs
 */
function agedArtifact(text, ageMs) {
  const artifact = JSON.parse(text);
  const when = new Date(Date.now() - ageMs).toISOString();
  return `${JSON.stringify({ ...artifact, fetchedAt: when, checkedAt: when, stale: false })}\n`;
}

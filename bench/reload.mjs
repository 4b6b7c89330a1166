// @ts-check
// Hot reload under load: while autocannon drives authenticated GET /api/v1/models, a newer artifact is written into
// the watched ConfigMap directory the way the kubelet does it (timestamped directory, `..data` symlink swap), again
// and again. Counts failed requests and measures the time from each swap to the new catalog being served.
import fs from 'node:fs';
import { log, median, now, quantile, quick, round, scratchDir, sleep } from './lib/common.mjs';
import { startLoad } from './lib/load.mjs';
import { artifactContract, createApiKey, preparePod, startApp, status } from './lib/app-fixture.mjs';
import { writeAtomically } from '../test/support/kubelet-volume.mjs';

export const RELOAD_SWAPS = quick ? 4 : 15;
const SWAP_EVERY_MS = 2000;

/** @param {{ pg: import('./lib/postgres.mjs').BenchPostgres, source: import('./lib/model-source.mjs').ModelSource }} env */
export async function runReload(env) {
  const pod = await preparePod(env.pg, env.source.url, 'reload');
  const configMapDir = scratchDir('reload-cm');
  const { buildArtifact, serializeArtifact } = artifactContract();
  const base = JSON.parse(fs.readFileSync(pod.modelsFile, 'utf8'));
  writeAtomically(configMapDir, { 'models.json': fs.readFileSync(pod.modelsFile, 'utf8') });
  const app = await startApp({
    databaseUrl: pod.databaseUrl,
    modelsFile: pod.modelsFile,
    env: { MODELS_CONFIGMAP_DIR: configMapDir },
  });
  const key = await createApiKey(app.base);

  const durationS = Math.ceil(((RELOAD_SWAPS + 1) * SWAP_EVERY_MS) / 1000) + 1;
  const load = startLoad({
    url: `${app.base}/api/v1/models`,
    headers: { authorization: `Bearer ${key}` },
    connections: 10,
    duration: durationS,
  });
  const reloadMs = [];
  let missed = 0;
  for (let generation = 1; generation <= RELOAD_SWAPS; generation++) {
    await sleep(SWAP_EVERY_MS / 2);
    const when = new Date().toISOString();
    // A different catalog each time (one model renamed), so the switch is visible in /status' sha256.
    const models = base.models.map((/** @type {any} */ m, /** @type {number} */ i) =>
      i === 0 ? { ...m, id: `${m.id}-g${generation}` } : m,
    );
    const artifact = buildArtifact({ models, source: base.source, fetchedAt: when, checkedAt: when });
    const swappedAt = now();
    writeAtomically(configMapDir, { 'models.json': serializeArtifact(artifact) });
    let seenAt;
    while (now() - swappedAt < SWAP_EVERY_MS * 2) {
      const current = await status(app.base);
      if (current?.models?.sha256 === artifact.sha256) {
        seenAt = now();
        break;
      }
      await sleep(20);
    }
    if (seenAt === undefined) missed++;
    else reloadMs.push(seenAt - swappedAt);
    await sleep(Math.max(0, SWAP_EVERY_MS / 2 - (now() - swappedAt)));
  }
  const result = await load.done;
  const metrics = await fetch(`${app.base}/metrics`).then((r) => r.text());
  app.child.kill('SIGTERM');
  await app.child.exited;
  fs.rmSync(configMapDir, { recursive: true, force: true });
  fs.rmSync(pod.podDir, { recursive: true, force: true });

  const summary = {
    swaps: RELOAD_SWAPS,
    swapEveryMs: SWAP_EVERY_MS,
    requests: result.requests.total,
    requestsPerSecond: round(result.requests.average, 0),
    failedRequests: result.errors + result.timeouts + result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    latencyP99Ms: result.latency.p99,
    reloadsSeen: reloadMs.length,
    reloadsMissed: missed,
    reloadLatency: {
      medianMs: round(median(reloadMs), 1),
      p95Ms: round(quantile(reloadMs, 0.95), 1),
      maxMs: round(Math.max(...reloadMs), 1),
    },
    reloadMetric: metrics.split('\n').filter((line) => line.startsWith('modelgate_models_reloads_total')),
  };
  log(
    `reload: ${summary.requests} requests, ${summary.failedRequests} failed, ${summary.reloadsSeen}/${RELOAD_SWAPS} reloads seen, median ${summary.reloadLatency.medianMs} ms`,
  );
  return summary;
}

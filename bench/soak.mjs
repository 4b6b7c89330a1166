// @ts-check
// Soak: the maximum requests/s of authenticated GET /api/v1/models is measured, then the app is driven at 70% of
// it for 10 minutes (30 s with BENCH_QUICK=1) while its RSS is sampled from /proc and its V8 heap in use from its
// own /metrics. Reports both over time, their least-squares slopes after a warm-up, and the error count.
import fs from 'node:fs';
import { log, now, quick, round, sleep } from './lib/common.mjs';
import { startLoad } from './lib/load.mjs';
import { createApiKey, preparePod, startApp } from './lib/app-fixture.mjs';
import { rssOf } from './lib/processes.mjs';
import { leastSquares } from './lib/stats.mjs';

export const SOAK_SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? (quick ? 30 : 600));
const MAX_PROBE_SECONDS = quick ? 5 : 15;
const SAMPLE_EVERY_MS = quick ? 1000 : 5000;
/** Samples before this are warm-up (JIT, pools, caches) and not part of the slope. */
const WARMUP_SECONDS = quick ? 5 : 60;

/**
 * The app's V8 heap in use (nodejs_heap_size_used_bytes on its /metrics), or undefined when it did not answer.
 * @param {string} base
 */
async function heapUsedOf(base) {
  try {
    const text = await (await fetch(`${base}/metrics`)).text();
    const match = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)$/m.exec(text);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A fitted slope (MiB per second) as MiB per minute, with its 95% confidence interval.
 * @param {{ slope: number, slopeStdErr: number }} fit
 */
function perMinute(fit) {
  return {
    slopeMiBPerMinute: round(fit.slope * 60, 4),
    slopeCi95MiBPerMinute: [
      round((fit.slope - 1.96 * fit.slopeStdErr) * 60, 4),
      round((fit.slope + 1.96 * fit.slopeStdErr) * 60, 4),
    ],
  };
}

/** @param {{ pg: import('./lib/postgres.mjs').BenchPostgres, source: import('./lib/model-source.mjs').ModelSource }} env */
export async function runSoak(env) {
  const pod = await preparePod(env.pg, env.source.url, 'soak');
  const app = await startApp({ databaseUrl: pod.databaseUrl, modelsFile: pod.modelsFile, name: 'soak' });
  const key = await createApiKey(app.base);
  const target = { url: `${app.base}/api/v1/models`, headers: { authorization: `Bearer ${key}` } };

  const max = await startLoad({ ...target, connections: 32, duration: MAX_PROBE_SECONDS }).done;
  const maxRps = max.requests.average;
  const rate = Math.max(1, Math.round(maxRps * 0.7));
  log(`soak: max ${round(maxRps, 0)} req/s; ${SOAK_SECONDS} s at ${rate} req/s`);
  await sleep(2000);

  const samples = [];
  const started = now();
  const loadDone = startLoad({ ...target, connections: 16, overallRate: rate, duration: SOAK_SECONDS }).done;
  let finished = false;
  loadDone.then(() => (finished = true));
  while (!finished) {
    const rss = rssOf(app.child.pid);
    const heap = await heapUsedOf(app.base);
    if (rss !== undefined)
      samples.push({
        t: round((now() - started) / 1000, 1),
        rssMiB: round(rss / 2 ** 20, 2),
        heapUsedMiB: heap === undefined ? null : round(heap / 2 ** 20, 2),
      });
    await Promise.race([sleep(SAMPLE_EVERY_MS), loadDone]);
  }
  const result = await loadDone;
  app.child.kill('SIGTERM');
  await app.child.exited;
  fs.rmSync(pod.podDir, { recursive: true, force: true });

  const fitted = samples.filter((s) => s.t >= WARMUP_SECONDS);
  const fit = leastSquares(
    fitted.map((s) => s.t),
    fitted.map((s) => s.rssMiB),
  );
  const heapSamples = fitted.filter((s) => s.heapUsedMiB !== null);
  const heapFit = leastSquares(
    heapSamples.map((s) => s.t),
    heapSamples.map((s) => /** @type {number} */ (s.heapUsedMiB)),
  );
  const summary = {
    seconds: SOAK_SECONDS,
    maxProbe: {
      seconds: MAX_PROBE_SECONDS,
      connections: 32,
      requestsPerSecond: round(maxRps, 0),
      errors: max.errors + max.timeouts + max.non2xx,
    },
    targetRate: rate,
    achievedRate: round(result.requests.average, 0),
    requests: result.requests.total,
    errors: result.errors + result.timeouts + result.non2xx,
    errorBreakdown: { errors: result.errors, timeouts: result.timeouts, non2xx: result.non2xx },
    latency: { p50Ms: result.latency.p50, p99Ms: result.latency.p99, maxMs: result.latency.max },
    warmupSeconds: WARMUP_SECONDS,
    sampleEveryMs: SAMPLE_EVERY_MS,
    samples,
    rss: {
      firstMiB: samples[0]?.rssMiB,
      lastMiB: samples.at(-1)?.rssMiB,
      minMiB: Math.min(...samples.map((s) => s.rssMiB)),
      maxMiB: Math.max(...samples.map((s) => s.rssMiB)),
      ...perMinute(fit),
      interceptMiB: round(fit.intercept, 2),
      residualStdMiB: round(fit.residualStd, 3),
      /** The fitted growth over the measured window, to set beside the noise (residual standard deviation). */
      fittedGrowthMiB: round(fit.slope * ((fitted.at(-1)?.t ?? 0) - (fitted[0]?.t ?? 0)), 3),
    },
    /** The V8 heap in use, from the app's own metrics: whether RSS growth is JavaScript objects or outside them. */
    heapUsed: {
      samples: heapSamples.length,
      ...perMinute(heapFit),
      minMiB: Math.min(...heapSamples.map((s) => /** @type {number} */ (s.heapUsedMiB))),
      maxMiB: Math.max(...heapSamples.map((s) => /** @type {number} */ (s.heapUsedMiB))),
    },
  };
  log(
    `soak: ${summary.requests} requests, ${summary.errors} errors, RSS slope ${summary.rss.slopeMiBPerMinute} MiB/min`,
  );
  return summary;
}

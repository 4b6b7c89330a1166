// @ts-check
// SIGTERM under load, as during a rolling update: autocannon drives GET /api/v1/models and streaming chat
// completions are open when the app gets SIGTERM. Like a Service, the load stops sending new requests once the pod
// has reported not ready for a propagation delay (1 s, shorter than SHUTDOWN_DELAY). Counts failed requests and
// unfinished streams, and the time from SIGTERM to exit.
import fs from 'node:fs';
import { log, now, quick, round, sleep } from './lib/common.mjs';
import { startLoad } from './lib/load.mjs';
import { createApiKey, preparePod, startApp, startUpstream, streamChat } from './lib/app-fixture.mjs';
import { httpGet } from './lib/processes.mjs';

export const SIGTERM_RUNS = quick ? 1 : 3;
const STREAMS = 5;
const PROPAGATION_MS = 1000;
const SHUTDOWN_DELAY = '3s';
const SHUTDOWN_TIMEOUT = '20s';

/** @param {{ pg: import('./lib/postgres.mjs').BenchPostgres, source: import('./lib/model-source.mjs').ModelSource }} env */
export async function runSigterm(env) {
  const pod = await preparePod(env.pg, env.source.url, 'sigterm');
  const upstream = await startUpstream({ chunks: 10, intervalMs: 500 });
  const model = JSON.parse(fs.readFileSync(pod.modelsFile, 'utf8')).models[0].id;
  /** @type {string | undefined} */
  let key;
  const runs = [];
  for (let run = 0; run < SIGTERM_RUNS; run++) {
    const app = await startApp({
      databaseUrl: pod.databaseUrl,
      modelsFile: pod.modelsFile,
      env: { UPSTREAM_URL: upstream.url, SHUTDOWN_DELAY, SHUTDOWN_TIMEOUT },
      name: `sigterm-${run}`,
    });
    key ??= await createApiKey(app.base);
    const apiKey = key;
    const load = startLoad({
      url: `${app.base}/api/v1/models`,
      headers: { authorization: `Bearer ${key}` },
      connections: 10,
      duration: 60,
    });
    await sleep(1000);
    const streams = Array.from({ length: STREAMS }, () => streamChat(app.base, apiKey, model));
    await sleep(500);
    const sigtermAt = now();
    app.child.kill('SIGTERM');
    // The endpoints controller: the first failing readiness probe, then the propagation delay.
    let notReadyAt;
    while (notReadyAt === undefined && now() - sigtermAt < 10_000) {
      const { status } = await httpGet(`${app.base}/readyz`, { timeoutMs: 500 });
      if (status !== 200) notReadyAt = now();
      else await sleep(100);
    }
    await sleep(PROPAGATION_MS);
    load.instance.stop();
    const result = await load.done;
    const streamResults = await Promise.all(streams);
    const exit = await app.child.exited;
    const record = {
      requests: result.requests.total,
      failedRequests: result.errors + result.timeouts + result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      streams: STREAMS,
      streamsFailed: streamResults.filter((s) => !s.ok).length,
      notReadyAfterMs: notReadyAt === undefined ? null : round(notReadyAt - sigtermAt, 0),
      exitAfterMs: round(exit.at - sigtermAt, 0),
      exitCode: exit.code,
    };
    log(
      `sigterm run ${run + 1}: ${record.requests} requests, ${record.failedRequests} failed, ${record.streamsFailed}/${STREAMS} streams failed, exit ${record.exitCode} after ${record.exitAfterMs} ms`,
    );
    runs.push(record);
  }
  await upstream.close();
  fs.rmSync(pod.podDir, { recursive: true, force: true });
  return {
    settings: {
      shutdownDelay: SHUTDOWN_DELAY,
      shutdownTimeout: SHUTDOWN_TIMEOUT,
      propagationMs: PROPAGATION_MS,
      streams: STREAMS,
      streamSeconds: 5,
    },
    runs,
    failedRequests: runs.reduce((sum, r) => sum + r.failedRequests, 0),
    streamsFailed: runs.reduce((sum, r) => sum + r.streamsFailed, 0),
  };
}

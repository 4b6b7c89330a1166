// @ts-check
// A "pod" as the kubelet runs it, with processes instead of containers: the init container (if any) runs to
// completion, restarted after a failure with the kubelet's back-off; then the app container starts, is restarted
// when it exits, and the pod counts as ready at its first 200 from the readiness URL.
import { deadlineSleep, now, sleep } from './common.mjs';
import { spawnNode, waitFor200 } from './processes.mjs';

/** The kubelet's crash back-off: 10 s, doubling, capped at 5 min (BENCH_RESTART_BACKOFF scales the first step). */
export const RESTART_BACKOFF_MS = Number(process.env.BENCH_RESTART_BACKOFF_MS ?? 10_000);

/**
 * @typedef {{ args: string[], env: NodeJS.ProcessEnv }} Command
 * @typedef {{ name: string, init?: Command, app: Command, readyUrl: string }} PodSpec
 * @typedef {{ kind: 'init' | 'app', pid: number, startedAt: number, exitedAt?: number, code?: number | null,
 *   signal?: string | null, output: string }} ContainerRun
 * @typedef {{ name: string, startedAt: number, initDoneAt?: number, readyAt?: number, runs: ContainerRun[],
 *   initFailures: number, appExits: number, app?: import('./processes.mjs').Child }} PodRecord
 */

/**
 * Runs one pod until it is ready or the deadline passes. A ready pod's app keeps running (pod.app) so that the
 * caller can stop it, or use it.
 * @param {PodSpec} spec @param {number} deadline monotonic ms
 * @returns {Promise<PodRecord>}
 */
export async function runPod(spec, deadline) {
  /** @type {PodRecord} */
  const record = { name: spec.name, startedAt: now(), runs: [], initFailures: 0, appExits: 0 };
  let backoff = RESTART_BACKOFF_MS;
  const backOff = async () => {
    await sleep(Math.max(0, Math.min(backoff, deadline - now())));
    backoff = Math.min(backoff * 2, 300_000);
  };

  if (spec.init) {
    for (;;) {
      if (now() >= deadline) return record;
      const child = spawnNode(`${spec.name}/init`, spec.init.args, spec.init.env);
      const exit = await Promise.race([
        child.exited,
        // The child keeps the process alive while it runs; the deadline timer must not once it has exited.
        deadlineSleep(Math.max(0, deadline - now())).then(() => undefined),
      ]);
      /** @type {ContainerRun} */
      const run = { kind: 'init', pid: child.pid, startedAt: child.startedAt, output: '' };
      record.runs.push(run);
      if (!exit) {
        child.kill();
        await child.exited;
        run.output = child.output();
        return record;
      }
      Object.assign(run, { exitedAt: exit.at, code: exit.code, signal: exit.signal, output: child.output() });
      if (exit.code === 0) break;
      record.initFailures++;
      await backOff();
    }
    record.initDoneAt = now();
  }

  while (now() < deadline) {
    const child = spawnNode(`${spec.name}/app`, spec.app.args, spec.app.env);
    /** @type {ContainerRun} */
    const run = { kind: 'app', pid: child.pid, startedAt: child.startedAt, output: '' };
    record.runs.push(run);
    const readyAt = await waitFor200(spec.readyUrl, { deadline, child, intervalMs: 100 });
    if (readyAt !== undefined) {
      record.readyAt = readyAt;
      record.app = child;
      return record;
    }
    if (!child.done) {
      // Deadline passed with the app still up but not ready: keep it for the caller to inspect and stop.
      record.app = child;
      return record;
    }
    const exit = await child.exited;
    Object.assign(run, { exitedAt: exit.at, code: exit.code, signal: exit.signal, output: child.output() });
    record.appExits++;
    await backOff();
  }
  return record;
}

/**
 * Stops a pod's app (SIGTERM, then SIGKILL after graceMs) and records its output.
 * @param {PodRecord} pod @param {number} [graceMs]
 */
export async function stopPod(pod, graceMs = 3000) {
  const child = pod.app;
  if (!child) return;
  child.kill('SIGTERM');
  const exited = await Promise.race([child.exited, deadlineSleep(graceMs).then(() => undefined)]);
  if (!exited) {
    child.kill('SIGKILL');
    await child.exited;
  }
  const run = pod.runs.findLast((r) => r.pid === child.pid);
  if (run) run.output = child.output();
}

// @ts-check
// The three designs the storm compares, as pod specs: modelgate (init container, then the app), the naive app, and
// the origin's pid % 4 rule.
import fs from 'node:fs';
import path from 'node:path';
import { binaries, repoRoot } from './common.mjs';
import { FLOOR_APP, FLOOR_INIT } from './floor.mjs';

/**
 * @typedef {{ databaseUrl: string, sourceUrl: string, runDir: string, kubeconfig?: string, configMap?: string,
 *   workerTimeoutMs: number, coordinatorUrl?: string }} StormContext
 * @typedef {'modelgate' | 'naive' | 'pid-mod-4' | 'floor'} Design
 */

/** `floor` (bench/lib/floor.mjs) is no design to deploy: the least two Node.js processes per pod can cost here. */
export const DESIGNS = /** @type {const} */ (['modelgate', 'naive', 'pid-mod-4', 'floor']);

/**
 * Every storm process reports its CPU time at exit (bench/lib/cpu-report.cjs). BENCH_NODE_ARGS adds node flags to
 * each of them while investigating, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
 */
const CPU_REPORT = [
  '--require',
  path.join(repoRoot, 'bench', 'lib', 'cpu-report.cjs'),
  ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
];

/** Only what a container would get: no inherited variables from the benchmark's own shell. */
function baseEnv() {
  /** @type {NodeJS.ProcessEnv} */
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_ENV: 'production' };
  // The baselines load the migrations from the same build as the binaries.
  if (process.env.BENCH_DIST) env.BENCH_DIST = process.env.BENCH_DIST;
  return env;
}

/**
 * @param {Design} design @param {number} index @param {number} port @param {StormContext} ctx
 * @returns {import('./pod.mjs').PodSpec}
 */
export function podSpec(design, index, port, ctx) {
  const name = `${design}-${index}`;
  const podDir = path.join(ctx.runDir, name);
  fs.mkdirSync(podDir, { recursive: true });
  const readyUrl = `http://127.0.0.1:${port}/readyz`;
  if (design === 'modelgate') {
    const modelsFile = path.join(podDir, 'models.json');
    const shared = {
      ...baseEnv(),
      DATABASE_URL: ctx.databaseUrl,
      MODELS_FILE: modelsFile,
      HOSTNAME: name,
      LOG_LEVEL: 'info',
    };
    /** @type {NodeJS.ProcessEnv} */
    const initEnv = { ...shared, MODEL_SOURCE_URL: ctx.sourceUrl };
    if (ctx.configMap && ctx.kubeconfig)
      Object.assign(initEnv, { MODELS_CONFIGMAP: ctx.configMap, KUBECONFIG: ctx.kubeconfig });
    return {
      name,
      init: { args: [...CPU_REPORT, binaries.init, 'all'], env: initEnv },
      app: {
        args: [...CPU_REPORT, binaries.app],
        env: {
          ...shared,
          LOG_LEVEL: 'warn',
          HOST: '127.0.0.1',
          PORT: String(port),
          ...(process.env.BENCH_NODE_ARGS ? { SHUTDOWN_DELAY: '0s' } : {}),
        },
      },
      readyUrl,
    };
  }
  if (design === 'floor') {
    const file = { FLOOR_FILE: path.join(podDir, 'models.json') };
    return {
      name,
      init: {
        args: [...CPU_REPORT, '-e', FLOOR_INIT],
        env: { ...baseEnv(), ...file, FLOOR_COORDINATOR_URL: String(ctx.coordinatorUrl) },
      },
      app: { args: [...CPU_REPORT, '-e', FLOOR_APP], env: { ...baseEnv(), ...file, PORT: String(port) } },
      readyUrl,
    };
  }
  const env = {
    ...baseEnv(),
    DATABASE_URL: ctx.databaseUrl,
    MODEL_SOURCE_URL: ctx.sourceUrl,
    PORT: String(port),
  };
  if (design === 'naive') {
    return {
      name,
      app: { args: [...CPU_REPORT, path.join(repoRoot, 'bench', 'baselines', 'naive-app.mjs')], env },
      readyUrl,
    };
  }
  return {
    name,
    app: {
      args: [...CPU_REPORT, path.join(repoRoot, 'bench', 'baselines', 'origin-pid-mod-4.mjs')],
      env: { ...env, POD_DIR: podDir, WORKERS: '4', WORKER_TIMEOUT_MS: String(ctx.workerTimeoutMs) },
    },
    readyUrl,
  };
}

/** Every JSON object printed on its own line in a process' output. */
export function jsonLines(/** @type {string} */ output) {
  /** @type {any[]} */
  const lines = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line));
    } catch {
      // a partial line at the output cap
    }
  }
  return lines;
}

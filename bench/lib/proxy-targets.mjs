// @ts-check
// The targets of the proxy benchmark, one process each, all in front of one fast upstream: the upstream itself (the
// ceiling), two floors (bare node:http and bare express proxies), modelgate-app as production runs it, LiteLLM's
// proxy and Portkey's gateway. Each target is started, checked with one plain and one streamed request, and
// described by what the load generator sends it.
import fs from 'node:fs';
import path from 'node:path';
import { ADMIN_TOKEN, createUserWithKey, preparePod, startApp } from './app-fixture.mjs';
import { log, now, repoRoot, sleep } from './common.mjs';
import {
  LITELLM_VERSION,
  PORTKEY_VERSION,
  installLiteLLM,
  installPortkey,
  litellmBin,
  portkeyServer,
} from './peers.mjs';
import { freePort } from '../../test/support/ports.mjs';
import { httpGet, spawnProcess } from './processes.mjs';
import { configureFeatures, featureEnv } from './proxy-features.mjs';

/** The model every request names: in modelgate's catalog (the run's model source), in LiteLLM's model_list. */
export const MODEL = 'bench-model-0';
/** The upstream's API key as the proxies send it (the upstream accepts anything). */
const UPSTREAM_KEY = 'sk-bench-upstream-0123456789';
const LITELLM_MASTER_KEY = 'sk-bench-litellm-0123456789';
const PATH = '/v1/chat/completions';

/** A short chat as clients send it; streamed requests add `"stream": true` (and no stream_options, as SDKs). */
const MESSAGES = [
  { role: 'system', content: 'You are a helpful assistant. Answer in one short sentence.' },
  { role: 'user', content: 'Say hello to the benchmark.' },
];
/** @param {'plain' | 'stream'} mode @returns {string} */
export function requestBody(mode) {
  return JSON.stringify({
    model: MODEL,
    messages: MESSAGES,
    max_tokens: 32,
    temperature: 0,
    ...(mode === 'stream' ? { stream: true } : {}),
  });
}

/**
 * @typedef {'upstream' | 'node-http' | 'express' | 'modelgate' | 'modelgate-no-limits' | 'modelgate-baseline'
 *   | 'litellm' | 'portkey'} TargetName
 * @typedef {{ name: TargetName, label: string, url: string, headers: Record<string, string>, pid: number,
 *   output: () => string, stop: () => Promise<void>, notes: string[], settleMs?: number }} Target
 *   settleMs: how long the work a request leaves behind takes to be done after the load stops (counted with it)
 * @typedef {{ name: TargetName, label: string, error: string, notes: string[] }} FailedTarget
 */

/** @type {Record<TargetName, string>} */
export const LABELS = {
  upstream: 'the upstream directly (ceiling)',
  'node-http': 'bare node:http proxy (floor)',
  express: 'bare express 5 proxy (floor, the reference)',
  modelgate: 'modelgate',
  'modelgate-no-limits': 'modelgate, limits and usage ledger off (same build)',
  'modelgate-baseline': 'modelgate, baseline build (BENCH_PROXY_BASELINE)',
  litellm: `LiteLLM proxy ${LITELLM_VERSION}`,
  portkey: `Portkey gateway ${PORTKEY_VERSION}`,
};
/** Every target but the baseline build, which runs only when BENCH_PROXY_BASELINE names one. */
export const TARGET_NAMES = /** @type {TargetName[]} */ (Object.keys(LABELS)).filter(
  (name) => name !== 'modelgate-baseline',
);

/** @param {string} url @param {number} timeoutMs @param {{ done: boolean }} child */
async function waitUntilAnswering(url, timeoutMs, child) {
  const deadline = now() + timeoutMs;
  while (now() < deadline) {
    if (child.done) return false;
    const { status } = await httpGet(url, { timeoutMs: 1000 });
    if (status >= 200 && status < 500) return true;
    await sleep(100);
  }
  return false;
}

/**
 * Spawns one server process with its output in `dir/<name>.log`, waits until `readyPath` answers.
 * @param {{ name: TargetName, command: string, args: string[], env: NodeJS.ProcessEnv, dir: string,
 *   port: number, readyPath: string, readyTimeoutMs?: number, cwd?: string }} spec
 */
async function startServer(spec) {
  const logFile = path.join(spec.dir, `${spec.name}.log`);
  const child = spawnProcess(spec.name, spec.command, spec.args, spec.env, { logFile, cwd: spec.cwd });
  const base = `http://127.0.0.1:${spec.port}`;
  const ready = await waitUntilAnswering(`${base}${spec.readyPath}`, spec.readyTimeoutMs ?? 30_000, child);
  if (!ready) {
    child.kill();
    await child.exited;
    throw new Error(
      `${spec.name} did not answer ${spec.readyPath} on port ${spec.port}:\n${child.output().slice(-3000)}`,
    );
  }
  return { child, base };
}

/** SIGTERM (a process run with --cpu-prof writes its profile on a clean exit), SIGKILL after 10 s. */
function stopper(/** @type {import('./processes.mjs').Child} */ child) {
  return async () => {
    child.kill('SIGTERM');
    const exited = await Promise.race([child.exited, sleep(10_000).then(() => undefined)]);
    if (!exited) {
      child.kill('SIGKILL');
      await child.exited;
    }
  };
}

const nodeEnv = () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_ENV: 'production' });

/** @param {string} dir */
export async function startUpstream(dir) {
  const port = await freePort();
  const { child, base } = await startServer({
    name: 'upstream',
    command: process.execPath,
    args: [path.join(repoRoot, 'bench', 'proxy', 'upstream.mjs')],
    env: { ...nodeEnv(), PORT: String(port) },
    dir,
    port,
    readyPath: '/',
  });
  /** @type {Target} */
  const target = {
    name: 'upstream',
    label: LABELS.upstream,
    url: `${base}${PATH}`,
    headers: {},
    pid: child.pid,
    output: child.output,
    stop: stopper(child),
    notes: [
      'node:http; answers at once; usage in every answer, the usage chunk when stream_options.include_usage',
    ],
  };
  return { target, base };
}

/**
 * @param {'node-http' | 'express'} name @param {string} upstreamBase @param {string} dir
 * @param {string[]} [nodeArgs] before the script (`--cpu-prof`)
 * @returns {Promise<Target>}
 */
export async function startFloor(name, upstreamBase, dir, nodeArgs = []) {
  const port = await freePort();
  const file = name === 'express' ? 'floor-express.mjs' : 'floor-node-http.mjs';
  const { child, base } = await startServer({
    name,
    command: process.execPath,
    args: [...nodeArgs, path.join(repoRoot, 'bench', 'proxy', file)],
    env: { ...nodeEnv(), PORT: String(port), UPSTREAM_URL: upstreamBase },
    dir,
    port,
    readyPath: '/',
  });
  return {
    name,
    label: LABELS[name],
    url: `${base}${PATH}`,
    headers: {},
    pid: child.pid,
    output: child.output,
    stop: stopper(child),
    notes: [`bench/proxy/${file}`],
  };
}

/**
 * modelgate the production way: a database migrated and an artifact resolved by `modelgate-init all`, the built
 * modelgate-app as a process (LOG_LEVEL=info, its log lines to a file), a user and key made through the admin API,
 * every feature on (bench/lib/proxy-features.mjs). `features: 'no-limits'` runs the same build with limits and the
 * usage ledger off, as target modelgate-no-limits; `baseline` runs the copy of a build's dist/ named by
 * BENCH_PROXY_BASELINE instead, as target modelgate-baseline. Each has a database of its own.
 * @param {{ pg: import('./postgres.mjs').BenchPostgres, source: { url: string }, upstreamBase: string, dir: string,
 *   nodeArgs?: string[], env?: NodeJS.ProcessEnv, baseline?: string,
 *   features?: import('./proxy-features.mjs').FeatureSet }} options
 * @returns {Promise<Target>}
 */
export async function startModelgate(options) {
  const features = options.features ?? 'all';
  /** @type {TargetName} */
  const name = options.baseline
    ? 'modelgate-baseline'
    : features === 'all'
      ? 'modelgate'
      : 'modelgate-no-limits';
  const pod = await preparePod(options.pg, options.source.url, `bench_${name.replaceAll('-', '_')}`);
  /** @type {Record<string, string | undefined>} */
  const env = {
    LOG_LEVEL: 'info',
    SHUTDOWN_DELAY: '0s',
    ...featureEnv(
      { upstreamUrl: options.upstreamBase, upstreamKey: UPSTREAM_KEY, dir: pod.podDir },
      features,
    ),
    ...options.env,
  };
  const app = await startApp({
    databaseUrl: pod.databaseUrl,
    modelsFile: pod.modelsFile,
    env,
    name,
    nodeArgs: options.nodeArgs,
    logFile: path.join(options.dir, `${name}.log`),
    appBin: options.baseline && path.join(options.baseline, 'bin', 'modelgate-app.js'),
  });
  const { key, keyId } = await createUserWithKey(app.base);
  await configureFeatures({ base: app.base, adminToken: ADMIN_TOKEN, keyId }, features);
  const shown = Object.keys(env).filter((name) => !name.endsWith('_API_KEY'));
  return {
    name,
    label: LABELS[name],
    url: `${app.base}${PATH}`,
    headers: { authorization: `Bearer ${key}` },
    pid: app.child.pid,
    output: app.child.output,
    // The usage ledger writes its batch within USAGE_FLUSH_INTERVAL (1 s); idle limit permits go back after 1 s.
    settleMs: 1_500,
    stop: async () => {
      await stopper(app.child)();
      fs.rmSync(pod.podDir, { recursive: true, force: true });
    },
    notes: [
      `${options.baseline ? `${options.baseline}/bin/modelgate-app.js (BENCH_PROXY_BASELINE)` : 'dist/bin/modelgate-app.js (the build)'}, PostgreSQL migrated by modelgate-init all, ${shown.map((n) => `${n}=${n === 'ROUTING_FILE' ? 'routing.json' : env[n]}`).join(', ')}${features === 'all' ? '' : '; the key has no policy'}`,
    ],
  };
}

/**
 * LiteLLM's proxy from a config file, no database, one worker, log level ERROR.
 * @param {string} upstreamBase @param {string} dir @returns {Promise<Target>}
 */
async function startLiteLLM(upstreamBase, dir) {
  const installed = await installLiteLLM();
  if (!installed.ok) throw new Error(`install failed: ${installed.error}`);
  const port = await freePort();
  const config = path.join(dir, 'litellm.yaml');
  fs.writeFileSync(
    config,
    [
      'model_list:',
      `  - model_name: ${MODEL}`,
      '    litellm_params:',
      `      model: openai/${MODEL}`,
      `      api_base: ${upstreamBase}/v1`,
      `      api_key: ${UPSTREAM_KEY}`,
      'general_settings:',
      `  master_key: ${LITELLM_MASTER_KEY}`,
      '',
    ].join('\n'),
  );
  const { child, base } = await startServer({
    name: 'litellm',
    command: litellmBin,
    args: ['--config', config, '--host', '127.0.0.1', '--port', String(port), '--num_workers', '1'],
    env: {
      PATH: `${path.dirname(litellmBin)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: dir,
      LITELLM_LOCAL_MODEL_COST_MAP: 'true',
      LITELLM_LOG: 'ERROR',
    },
    dir,
    port,
    readyPath: '/health/liveliness',
    readyTimeoutMs: 180_000,
  });
  return {
    name: 'litellm',
    label: LABELS.litellm,
    url: `${base}${PATH}`,
    headers: { authorization: `Bearer ${LITELLM_MASTER_KEY}` },
    pid: child.pid,
    output: child.output,
    stop: stopper(child),
    notes: [
      ...installed.notes,
      `litellm --config (model_list: openai/${MODEL} at the upstream, a master_key; no DATABASE_URL) --num_workers 1, LITELLM_LOCAL_MODEL_COST_MAP=true, LITELLM_LOG=ERROR`,
    ],
  };
}

/**
 * Portkey's gateway on its own port (`--port=`), headless, NODE_ENV=production. It listens on all interfaces; the
 * benchmark only ever sends it loopback traffic.
 * @param {string} upstreamBase @param {string} dir @returns {Promise<Target>}
 */
async function startPortkey(upstreamBase, dir) {
  const installed = await installPortkey();
  if (!installed.ok) throw new Error(`install failed: ${installed.error}`);
  const port = await freePort();
  const { child, base } = await startServer({
    name: 'portkey',
    command: process.execPath,
    args: [portkeyServer, `--port=${port}`, '--headless'],
    env: nodeEnv(),
    cwd: path.dirname(portkeyServer),
    dir,
    port,
    readyPath: '/',
  });
  return {
    name: 'portkey',
    label: LABELS.portkey,
    url: `${base}${PATH}`,
    headers: {
      authorization: `Bearer ${UPSTREAM_KEY}`,
      'x-portkey-provider': 'openai',
      'x-portkey-custom-host': `${upstreamBase}/v1`,
    },
    pid: child.pid,
    output: child.output,
    stop: stopper(child),
    notes: [
      ...installed.notes,
      `node build/start-server.js --port=N --headless, NODE_ENV=production; provider openai with x-portkey-custom-host at the upstream`,
    ],
  };
}

/**
 * Starts the requested targets other than the upstream; one that fails to install or start is returned as failed,
 * with its error, and the others run.
 * @param {TargetName[]} names
 * @param {{ pg: import('./postgres.mjs').BenchPostgres, source: { url: string }, upstreamBase: string, dir: string }} context
 * @returns {Promise<{ started: Target[], failed: FailedTarget[] }>}
 */
export async function startTargets(names, context) {
  /** @type {Record<Exclude<TargetName, 'upstream'>, () => Promise<Target>>} */
  const starters = {
    'node-http': () => startFloor('node-http', context.upstreamBase, context.dir),
    express: () => startFloor('express', context.upstreamBase, context.dir),
    modelgate: () => startModelgate(context),
    'modelgate-no-limits': () => startModelgate({ ...context, features: 'no-limits' }),
    'modelgate-baseline': () => startModelgate({ ...context, baseline: process.env.BENCH_PROXY_BASELINE }),
    litellm: () => startLiteLLM(context.upstreamBase, context.dir),
    portkey: () => startPortkey(context.upstreamBase, context.dir),
  };
  /** @type {Target[]} */
  const started = [];
  /** @type {FailedTarget[]} */
  const failed = [];
  for (const name of names) {
    if (name === 'upstream') continue;
    const startedAt = now();
    try {
      const target = await starters[name]();
      started.push(target);
      log(`${name} ready in ${((now() - startedAt) / 1000).toFixed(1)} s`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log(`${name} failed to start: ${message.split('\n')[0]}`);
      failed.push({ name, label: LABELS[name], error: message.slice(0, 4000), notes: [] });
    }
  }
  return { started, failed };
}

/**
 * One plain or streamed request, checked as a client would: 200, a chat.completion with a message (plain), or an
 * event stream of chunks ending in `data: [DONE]` with no error event (streamed).
 * @param {Target} target @param {'plain' | 'stream'} mode
 * @returns {Promise<{ ok: boolean, status: number, error?: string, sample: string }>}
 */
export async function probe(target, mode) {
  try {
    const response = await fetch(target.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...target.headers },
      body: requestBody(mode),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    const sample = text.slice(0, 600);
    if (response.status !== 200)
      return { ok: false, status: response.status, error: `HTTP ${response.status}: ${sample}`, sample };
    if (mode === 'plain') {
      const body = JSON.parse(text);
      const content = body?.choices?.[0]?.message?.content;
      if (typeof content !== 'string')
        return { ok: false, status: 200, error: `no choices[0].message.content: ${sample}`, sample };
      return { ok: true, status: 200, sample };
    }
    const events = text
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => line.slice(6).trim());
    const chunks = events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e));
    const failure = chunks.find((c) => c.error);
    if (failure)
      return { ok: false, status: 200, error: `error event: ${JSON.stringify(failure.error)}`, sample };
    if (events.at(-1) !== '[DONE]')
      return {
        ok: false,
        status: 200,
        error: `the stream did not end with data: [DONE]: ${text.slice(-300)}`,
        sample,
      };
    const content = chunks.filter((c) => c.choices?.[0]?.delta?.content).length;
    if (content === 0) return { ok: false, status: 200, error: `no content chunks: ${sample}`, sample };
    return { ok: true, status: 200, sample };
  } catch (error) {
    return {
      ok: false,
      status: 0,
      error: error instanceof Error ? error.message : String(error),
      sample: '',
    };
  }
}

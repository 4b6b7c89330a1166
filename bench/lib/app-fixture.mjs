// @ts-check
// One modelgate pod prepared for the runtime benchmarks (reload, SIGTERM, soak): a database migrated and an artifact
// resolved by a real `modelgate-init all`, then `modelgate-app` started on a free port, with an API key.
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { binaries, distDir, now, scratchDir, sleep } from './common.mjs';
import { freePort } from '../../test/support/ports.mjs';
import { httpGet, spawnNode, spawnProcess, waitFor200 } from './processes.mjs';

const require = createRequire(import.meta.url);

export const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';

function baseEnv() {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_ENV: 'production' };
}

/**
 * A fresh database migrated by modelgate-init, and a pod directory holding the artifact it resolved.
 * @param {import('./postgres.mjs').BenchPostgres} pg @param {string} sourceUrl @param {string} name
 */
export async function preparePod(pg, sourceUrl, name) {
  const databaseUrl = await pg.createDatabase(name);
  const podDir = scratchDir(name);
  const modelsFile = path.join(podDir, 'models.json');
  const init = spawnNode(`${name}/init`, [binaries.init, 'all'], {
    ...baseEnv(),
    DATABASE_URL: databaseUrl,
    MODEL_SOURCE_URL: sourceUrl,
    MODELS_FILE: modelsFile,
    LOG_LEVEL: 'warn',
  });
  const exit = await init.exited;
  if (exit.code !== 0) throw new Error(`modelgate-init all failed (${exit.code}):\n${init.output()}`);
  return { databaseUrl, podDir, modelsFile };
}

/**
 * Starts modelgate-app and waits until /readyz answers 200. `nodeArgs` go before the binary (`--cpu-prof`);
 * `logFile` takes its output instead of a pipe (see spawnProcess); `appBin` runs another build's modelgate-app.js.
 * @param {{ databaseUrl: string, modelsFile: string, env?: NodeJS.ProcessEnv, name?: string, nodeArgs?: string[],
 *   logFile?: string, appBin?: string }} options
 */
export async function startApp(options) {
  const port = await freePort();
  const env = {
    ...baseEnv(),
    DATABASE_URL: options.databaseUrl,
    MODELS_FILE: options.modelsFile,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    ADMIN_TOKEN,
    ...options.env,
  };
  const args = [...(options.nodeArgs ?? []), options.appBin ?? binaries.app];
  const name = options.name ?? 'app';
  const child = options.logFile
    ? spawnProcess(name, process.execPath, args, env, { logFile: options.logFile })
    : spawnNode(name, args, env);
  const base = `http://127.0.0.1:${port}`;
  const readyAt = await waitFor200(`${base}/readyz`, { deadline: now() + 60_000, child });
  if (readyAt === undefined) {
    child.kill();
    await child.exited;
    throw new Error(`modelgate-app did not become ready:\n${child.output()}`);
  }
  return { child, port, base };
}

/**
 * Creates a user and its first API key through the admin API.
 * @param {string} base @returns {Promise<{ key: string, keyId: string, userId: string }>} the secret key and ids
 */
export async function createUserWithKey(base) {
  const response = await fetch(`${base}/api/v1/admin/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench' }),
  });
  if (response.status !== 201)
    throw new Error(`creating an API key failed: ${response.status} ${await response.text()}`);
  const body = /** @type {{ user: { id: string }, key: { id: string, key: string } }} */ (
    await response.json()
  );
  return { key: body.key.key, keyId: body.key.id, userId: body.user.id };
}

/**
 * Creates a user and its first API key through the admin API.
 * @param {string} base @returns {Promise<string>} the secret key
 */
export async function createApiKey(base) {
  return (await createUserWithKey(base)).key;
}

/** @param {string} base @returns {Promise<any>} the app's /status */
export async function status(base) {
  const { status: code, body } = await httpGet(`${base}/status`, { timeoutMs: 2000 });
  return code === 200 || code === 503 ? JSON.parse(body) : undefined;
}

/** The artifact contract from the build (buildArtifact, parseArtifact). */
export function artifactContract() {
  return require(path.join(distDir, 'core', 'artifact', 'schema.js'));
}

/**
 * A fake OpenAI-compatible upstream whose streaming chat completions send `chunks` chunks, one every `intervalMs`.
 * @param {{ chunks?: number, intervalMs?: number }} [options]
 */
export async function startUpstream(options = {}) {
  const chunks = options.chunks ?? 8;
  const intervalMs = options.intervalMs ?? 500;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', async () => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (let i = 0; i < chunks; i++) {
        if (res.destroyed) return;
        const chunk = {
          id: 'bench',
          object: 'chat.completion.chunk',
          choices: [{ index: 0, delta: { content: `t${i} ` } }],
        };
        res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        await sleep(intervalMs);
      }
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}

/**
 * One streaming chat completion; resolves true only when the stream ended with `data: [DONE]`.
 * @param {string} base @param {string} key @param {string} model
 * @returns {Promise<{ ok: boolean, status: number, error?: string }>}
 */
export function streamChat(base, key, model) {
  return new Promise((resolve) => {
    const body = JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hello' }] });
    const req = http.request(
      `${base}/api/v1/chat/completions`,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () =>
          resolve({
            ok: res.statusCode === 200 && text.includes('data: [DONE]'),
            status: res.statusCode ?? 0,
          }),
        );
        res.on('error', (error) => resolve({ ok: false, status: res.statusCode ?? 0, error: error.message }));
      },
    );
    req.on('error', (error) => resolve({ ok: false, status: 0, error: error.message }));
    req.end(body);
  });
}

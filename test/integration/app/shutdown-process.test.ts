import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { makeArtifact, writeArtifactFile } from '../../support/artifacts';
import { tempDir } from '../../support/temp.mjs';
import { untilReady } from '../../support/wait';
import { getJson } from '../../support/http';

// jest ignores the integration project's testTimeout; these tests start servers and processes on a busy machine.
jest.setTimeout(60_000);

const root = path.join(__dirname, '..', '..', '..');
const ADMIN_TOKEN = 'shutdown-test-admin-token-0123456789abcdef';

/** An OpenAI-style upstream that streams `chunks` SSE events, one every `everyMs`. */
function fakeUpstream(chunks: number, everyMs: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      let sent = 0;
      const timer = setInterval(() => {
        if (sent === chunks) {
          clearInterval(timer);
          res.end('data: [DONE]\n\n');
          return;
        }
        sent += 1;
        res.write(`data: {"choices":[{"delta":{"content":"${sent} "}}]}\n\n`);
      }, everyMs);
      res.on('close', () => clearInterval(timer));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function postStream(url: string, key: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () =>
          res.complete && res.statusCode === 200
            ? resolve(text)
            : reject(new Error(`stream ended early (${res.statusCode})`)),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ model: 'model-0', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
  });
}

describe('modelgate-app process: SIGTERM under load', () => {
  let testDb: TestDatabase;
  let upstream: http.Server;
  let app: ChildProcess | undefined;

  beforeAll(async () => {
    testDb = await createTestDatabase('app_sigterm');
    await testDb.migrateLatest();
    upstream = await fakeUpstream(30, 50);
  });
  afterAll(async () => {
    if (app && app.exitCode === null) app.kill('SIGKILL');
    await new Promise((resolve) => upstream?.close(resolve));
    await testDb?.drop();
  });

  it('fails no request, finishes open SSE streams and exits 0 before the deadline', async () => {
    const file = path.join(tempDir('sigterm'), 'models.json');
    writeArtifactFile(file, makeArtifact({ count: 3 }));
    app = spawn(process.execPath, [path.join(root, 'dist', 'bin', 'modelgate-app.js')], {
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: testDb.url,
        MODELS_FILE: file,
        HOST: '127.0.0.1',
        PORT: '0',
        ADMIN_TOKEN,
        UPSTREAM_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
        SHUTDOWN_DELAY: '1s',
        SHUTDOWN_TIMEOUT: '15s',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const logs: string[] = [];
    app.stderr!.on('data', (chunk) => logs.push(String(chunk)));
    const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
      app!.once('exit', (code) => resolve({ code, at: Date.now() })),
    );
    const port = await new Promise<number>((resolve, reject) => {
      const lines = readline.createInterface({ input: app!.stdout! });
      lines.on('line', (line) => {
        logs.push(line);
        const record = JSON.parse(line) as { msg?: string; port?: number };
        if (record.msg === 'modelgate-app listening') resolve(record.port!);
      });
      void exited.then(() => reject(new Error(`app exited early:\n${logs.join('\n')}`)));
    });
    const base = `http://127.0.0.1:${port}`;
    await untilReady(base);
    const created = await getJson(`${base}/api/v1/admin/users`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'load' }),
    });
    expect(created.status).toBe(201);
    const key = created.body.key.key as string;

    // A load balancer: sends traffic while /readyz says ready, stops once it does not.
    let routed = true;
    const balancer = (async () => {
      while (routed) {
        const res = await getJson(`${base}/readyz`).catch(() => ({ status: 0 }));
        if (res.status !== 200) routed = false;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const failures: string[] = [];
    let ok = 0;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const worker = async () => {
      while (routed) {
        try {
          const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
            http
              .get(`${base}/api/v1/models`, { agent, headers: { Authorization: `Bearer ${key}` } }, resolve)
              .on('error', reject),
          );
          res.resume();
          await new Promise((resolve) => res.on('end', resolve));
          if (res.statusCode === 200) ok += 1;
          else failures.push(`status ${res.statusCode}`);
        } catch (error) {
          failures.push(String(error));
        }
      }
    };
    const workers = Promise.all([worker(), worker(), worker(), worker()]);
    const streams = [
      postStream(`${base}/api/v1/chat/completions`, key),
      postStream(`${base}/v1/chat/completions`, key),
    ];
    await new Promise((resolve) => setTimeout(resolve, 200));
    const signalledAt = Date.now();
    app.kill('SIGTERM');

    const texts = await Promise.all(streams);
    for (const text of texts) {
      expect(text.match(/^data: \{"choices"/gm)).toHaveLength(30);
      expect(text).toContain('data: [DONE]');
    }
    await workers;
    await balancer;
    agent.destroy();
    const { code, at } = await exited;
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(10);
    expect(code).toBe(0);
    // Deadline: SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT.
    expect(at - signalledAt).toBeLessThan(16_000);
    expect(logs.join('\n')).toContain('shutdown complete');
  }, 60_000);
});

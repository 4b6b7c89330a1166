import { EventEmitter } from 'node:events';
import http from 'node:http';
import path from 'node:path';
import { silentLogger } from '../../../core/logger';
import { startRuntime, type Runtime } from '../../../app/runtime';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { makeArtifact, writeArtifactFile } from '../../support/artifacts';
import { tempDir } from '../../support/temp.mjs';
import { eventually, untilReady } from '../../support/wait';
import { getJson } from '../../support/http';
import { appConfig } from '../../support/app/config';
import { stubApi } from '../../support/app/stub-api';

// jest ignores the integration project's testTimeout; these tests start servers and processes on a busy machine.
jest.setTimeout(60_000);

/** Reads a whole SSE response; resolves with the text, or rejects when the connection is cut. */
function readStream(url: string): Promise<{ text: string; complete: boolean }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ text, complete: res.complete }));
        res.on('aborted', () => resolve({ text, complete: false }));
        res.on('error', () => resolve({ text, complete: false }));
      })
      .on('error', reject);
  });
}

describe('graceful shutdown (in process)', () => {
  let testDb: TestDatabase;
  let file: string;

  beforeAll(async () => {
    testDb = await createTestDatabase('app_shutdown');
    await testDb.migrateLatest();
    file = path.join(tempDir('shutdown'), 'models.json');
    writeArtifactFile(file, makeArtifact());
  });
  afterAll(async () => {
    await testDb?.drop();
  });

  async function start(env: Record<string, string>) {
    const signals = new EventEmitter();
    const exits: number[] = [];
    const api = stubApi();
    const runtime: Runtime = await startRuntime({
      config: appConfig({ DATABASE_URL: testDb.url, MODELS_FILE: file, ...env }),
      logger: silentLogger(),
      createApi: api.create,
      exit: (code) => exits.push(code),
      signals,
      pollIntervalMs: 600_000,
    });
    const base = `http://127.0.0.1:${runtime.port}`;
    await untilReady(base);
    return { runtime, signals, exits, api, base };
  }

  it('reports 503 at once, keeps serving through the delay, drains open SSE streams, then exits 0', async () => {
    const { runtime, signals, exits, api, base } = await start({
      SHUTDOWN_DELAY: '400ms',
      SHUTDOWN_TIMEOUT: '10s',
    });
    const stream = readStream(`${base}/api/v1/stream?events=20&every=50`);
    await eventually(() => (runtime.shutdown.inFlight() > 0 ? true : undefined));
    const signalledAt = Date.now();
    signals.emit('SIGTERM');
    const readyz = await getJson(`${base}/readyz`);
    expect(readyz.status).toBe(503);
    expect(readyz.body.reasons).toEqual(['shutting down: draining in-flight requests']);
    // Still answering during the delay (the balancer has not caught up yet).
    expect((await getJson(`${base}/livez`)).status).toBe(200);
    expect((await getJson(`${base}/status`)).body.status).toBe('draining');

    const { text, complete } = await stream;
    expect(complete).toBe(true);
    expect(text.match(/^data: \{"n":\d+\}$/gm)).toHaveLength(20);
    expect(text).toContain('data: [DONE]');

    await eventually(() => (exits.length > 0 ? true : undefined), 10_000, 'exit');
    expect(exits).toEqual([0]);
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
    expect(api.calls).toEqual(['start', 'close']);
    await expect(fetch(`${base}/livez`)).rejects.toThrow();
  }, 30_000);

  it('cuts streams still open at SHUTDOWN_TIMEOUT and exits 1', async () => {
    const { runtime, signals, exits, base } = await start({ SHUTDOWN_DELAY: '0', SHUTDOWN_TIMEOUT: '300ms' });
    const endless = readStream(`${base}/api/v1/stream?events=-1&every=20`);
    await eventually(() => (runtime.shutdown.inFlight() > 0 ? true : undefined));
    signals.emit('SIGTERM');
    const { text, complete } = await endless;
    expect(complete).toBe(false);
    expect(text).toContain('data: {"n":1}');
    await eventually(() => (exits.length > 0 ? true : undefined), 10_000, 'exit');
    expect(exits).toEqual([1]);
  }, 30_000);

  it('exits at once on a second signal', async () => {
    const { runtime, signals, exits, base } = await start({ SHUTDOWN_DELAY: '30s', SHUTDOWN_TIMEOUT: '30s' });
    signals.emit('SIGTERM');
    expect((await getJson(`${base}/readyz`)).status).toBe(503);
    signals.emit('SIGINT');
    expect(exits).toEqual([1]);
    expect(runtime.shutdown.phase()).toBe('done');
    // A real process is gone here; the test process releases what it would have left behind.
    runtime.health.stop();
    runtime.server.closeAllConnections();
    runtime.server.close();
    await runtime.db.destroy();
  }, 30_000);
});

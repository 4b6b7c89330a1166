import fs from 'node:fs';
import path from 'node:path';
import type http from 'node:http';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { initReportPath } from '../../../core/artifact/report';
import type { Artifact } from '../../../core/artifact/schema';
import { runInit, summaryOf, type InitRun } from '../../support/init/spawn-init';
import { json, startSourceServer, type Handler, type SourceServer } from '../../support/init/source-server';
import { tempDir } from '../../support/temp.mjs';
import { artifactFrom, fixture, readArtifact, writeArtifactFile } from '../../support/artifacts';

jest.setTimeout(120_000);

/**
 * One test per fault of the model source, each against a real HTTP server. A last-known-good artifact (checked an
 * hour ago: past MODELS_MAX_AGE, within MODELS_MAX_STALE) sits in MODELS_FILE; a bad answer must never replace it.
 */
describe('modelgate-init models: source faults (real HTTP server, real processes)', () => {
  let testDb: TestDatabase;
  let server: SourceServer;
  let file: string;
  let lkg: Artifact;

  beforeAll(async () => {
    testDb = await createTestDatabase('init_faults');
  });
  afterAll(async () => {
    await testDb.drop();
  });
  beforeEach(async () => {
    server = await startSourceServer(json(fixture('updated.json')));
    file = path.join(tempDir('faults'), 'models.json');
    lkg = artifactFrom('minimal.json', { url: server.url, ageMs: 60 * 60_000, etag: '"v1"' });
    writeArtifactFile(file, lkg);
  });
  afterEach(async () => {
    await server.close();
  });

  const run = (env: Record<string, string> = {}) =>
    runInit(['models'], {
      DATABASE_URL: testDb.url,
      MODEL_SOURCE_URL: server.url,
      MODELS_FILE: file,
      // short enough to keep the suite fast, long enough for loopback answers on a loaded machine; the timeout
      // tests themselves shorten it
      MODEL_SOURCE_TIMEOUT: '5s',
      MODEL_SOURCE_RETRIES: '1',
      // the attempts themselves are under test here; the fallback allowance has its own tests below
      MODELS_FALLBACK_AFTER: '60s',
      ...env,
    });

  function expectLastKnownGood(result: InitRun, reason: RegExp): void {
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(summaryOf(result).artifact).toEqual({
      origin: 'last-known-good',
      models: lkg.models.length,
      sha256: lkg.sha256,
      stale: true,
      freshness: 'stale',
    });
    expect(readArtifact(file)).toEqual({ ...lkg, stale: true });
    const warning = result.lines.find(
      (l) => l.msg === 'model source failed; using the last-known-good artifact, marked stale',
    );
    expect(warning?.reason).toMatch(reason);
    expect(warning?.level).toBe('warn');
  }

  const handle = (handler: Handler) => server.setHandler(handler);

  it('slow headers: times out after MODEL_SOURCE_TIMEOUT, retries, falls back', async () => {
    handle(() => undefined);
    const result = await run({ MODEL_SOURCE_TIMEOUT: '1s' });
    expectLastKnownGood(
      result,
      /no complete answer within MODEL_SOURCE_TIMEOUT \(1000 ms\) \(after 2 attempts\)/,
    );
    expect(server.requests).toHaveLength(2);
  });

  it('a hanging source with a last-known-good artifact held: falls back after MODELS_FALLBACK_AFTER, not after every attempt', async () => {
    handle(() => undefined);
    // the defaults would wait 4 x 10 s before falling back
    const result = await run({
      MODEL_SOURCE_TIMEOUT: '10s',
      MODEL_SOURCE_RETRIES: '3',
      MODELS_FALLBACK_AFTER: '1s',
    });
    expectLastKnownGood(result, /no complete answer within MODELS_FALLBACK_AFTER \(1000 ms\)/);
    expect(server.requests).toHaveLength(1);
  });

  it('with nothing to fall back on, the source gets its full MODEL_SOURCE_TIMEOUT whatever MODELS_FALLBACK_AFTER says', async () => {
    fs.rmSync(file);
    handle((req, res, count) => {
      setTimeout(() => json(fixture('updated.json'))(req, res, count), 1500);
    });
    const result = await run({ MODEL_SOURCE_RETRIES: '0', MODELS_FALLBACK_AFTER: '200ms' });
    expect(result.code).toBe(0);
    expect(summaryOf(result).artifact).toMatchObject({ origin: 'fetched', stale: false });
  });

  it('slow body: a body that trickles past MODEL_SOURCE_TIMEOUT is abandoned', async () => {
    handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"models":[');
      const timer = setInterval(() => res.write(' '), 100);
      res.on('close', () => clearInterval(timer));
    });
    expectLastKnownGood(
      await run({ MODEL_SOURCE_RETRIES: '0', MODEL_SOURCE_TIMEOUT: '1s' }),
      /no complete answer within MODEL_SOURCE_TIMEOUT/,
    );
  });

  it('connection reset: retried, then falls back', async () => {
    handle((req) => req.socket.destroy());
    expectLastKnownGood(await run(), /ECONNRESET|socket hang up/);
    expect(server.requests).toHaveLength(2);
  });

  it('500: retried, then falls back', async () => {
    handle((_req, res) => res.writeHead(500).end('boom'));
    expectLastKnownGood(await run(), /HTTP 500 \(after 2 attempts\)/);
    expect(server.requests).toHaveLength(2);
  });

  it('503 with Retry-After: waits as told, then uses the answer', async () => {
    handle((_req, res, count) => {
      if (count === 1) res.writeHead(503, { 'retry-after': '1' }).end();
      else json(fixture('updated.json'))(_req, res, count);
    });
    const result = await run();
    expect(result.code).toBe(0);
    expect(summaryOf(result).artifact).toMatchObject({ origin: 'fetched', models: 3, stale: false });
    expect(readArtifact(file).models.map((m) => m.id)).toContain('deepseek-r1');
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]!.at - server.requests[0]!.at).toBeGreaterThanOrEqual(900);
  });

  it('429: retried, then falls back', async () => {
    handle((_req, res) => res.writeHead(429, { 'retry-after': '0' }).end());
    expectLastKnownGood(await run(), /HTTP 429 \(after 2 attempts\)/);
    expect(server.requests).toHaveLength(2);
  });

  it('404: not retried, falls back', async () => {
    handle((_req, res) => res.writeHead(404).end());
    expectLastKnownGood(await run(), /HTTP 404$/);
    expect(server.requests).toHaveLength(1);
  });

  it('malformed JSON: falls back', async () => {
    handle(json(fixture('malformed.txt')));
    expectLastKnownGood(await run(), /did not return JSON/);
  });

  it('wrong shape: falls back', async () => {
    handle(json(fixture('wrong-shape.json')));
    expectLastKnownGood(await run(), /wrong shape: expected \{"models":\[\.\.\.\]\}/);
  });

  it('empty list: falls back, an empty catalog is never published', async () => {
    handle(json(fixture('empty.json')));
    expectLastKnownGood(await run(), /lists no usable model/);
  });

  it('50 MB body: stopped at MODEL_SOURCE_MAX_BYTES, falls back', async () => {
    let sent = 0;
    handle((_req, res) => {
      const total = 50 * 1024 * 1024;
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(total) });
      const pump = () => {
        while (sent < total && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('error', () => undefined);
      pump();
    });
    expectLastKnownGood(await run(), /larger than MODEL_SOURCE_MAX_BYTES \(20971520 bytes\)/);
    expect(sent).toBeLessThan(50 * 1024 * 1024);
  });

  it('redirect loop: gives up after the redirect limit, falls back', async () => {
    handle((req, res) => {
      res.writeHead(302, { location: req.url === '/a' ? '/b' : '/a' }).end();
    });
    expectLastKnownGood(await run(), /more than 5 redirects/);
    expect(server.requests.length).toBe(6);
  });

  it('wrong content-type: an HTML page is refused, falls back', async () => {
    handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(fixture('updated.json'));
    });
    expectLastKnownGood(await run(), /unexpected content-type "text\/html; charset=utf-8"/);
  });

  it('304: a conditional request that finds no change moves only checkedAt', async () => {
    handle((req: http.IncomingMessage, res: http.ServerResponse) => {
      if (req.headers['if-none-match'] === '"v1"') res.writeHead(304).end();
      else res.writeHead(500).end();
    });
    const result = await run();
    expect(result.code).toBe(0);
    expect(summaryOf(result).artifact).toMatchObject({
      origin: 'not-modified',
      sha256: lkg.sha256,
      stale: false,
    });
    const after = readArtifact(file);
    expect(after).toEqual({ ...lkg, checkedAt: after.checkedAt });
    expect(Date.parse(after.checkedAt)).toBeGreaterThan(Date.parse(lkg.checkedAt));
    expect(server.requests).toHaveLength(1);
  });

  it('without a last-known-good artifact a failing source exits 1, writes no artifact, and says what to do', async () => {
    fs.rmSync(file);
    handle((_req, res) => res.writeHead(500).end());
    const result = await run();
    expect(result.code).toBe(1);
    expect(fs.existsSync(file)).toBe(false);
    const summary = summaryOf(result);
    expect(summary).toMatchObject({ exitCode: 1, artifact: { origin: 'none', models: 0 } });
    expect(summary.error).toMatch(
      /the model source failed \(.*HTTP 500 \(after 2 attempts\)\) and there is no last-known-good artifact to fall back on \(no sink holds a valid artifact\); fix MODEL_SOURCE_URL or the source/,
    );
    // the report is written on failure too
    expect(JSON.parse(fs.readFileSync(initReportPath(file), 'utf8'))).toEqual(summary);
  });

  it('a last-known-good artifact older than MODELS_MAX_STALE is not used: exit 1, the file is left as it was', async () => {
    handle((_req, res) => res.writeHead(500).end());
    const result = await run({ MODELS_MAX_STALE: '30m' });
    expect(result.code).toBe(1);
    expect(summaryOf(result).error).toMatch(/older than MODELS_MAX_STALE.*raise MODELS_MAX_STALE/);
    expect(readArtifact(file)).toEqual(lkg);
  });
});

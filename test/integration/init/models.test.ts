import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { selfSignedCertificate } from '../../support/certificate';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { initReportPath } from '../../../core/artifact/report';
import { serializeArtifact } from '../../../core/artifact/schema';
import { LOCK_KEYS } from '../../../init/db/advisory-lock';
import { CONFIGMAP_KEY } from '../../../core/artifact/configmap';
import { runInit, startInit, summaryOf } from '../../support/init/spawn-init';
import { json, startSourceServer, type SourceServer } from '../../support/init/source-server';
import { tempDir } from '../../support/temp.mjs';
import { startConfigMapServer, type ConfigMapServer } from '../../support/init/configmap-server';
import { freePort } from '../../support/ports.mjs';
import { artifactFrom, FIXTURES, fixture, readArtifact, writeArtifactFile } from '../../support/artifacts';

jest.setTimeout(180_000);

const NS = 'modelgate';
const NAME = 'modelgate-models';
const HOUR = 60 * 60_000;

describe('modelgate-init models, refresh, all (real HTTP servers, real processes)', () => {
  let testDb: TestDatabase;
  let source: SourceServer;
  let kube: ConfigMapServer;
  let dir: string;
  let file: string;

  beforeAll(async () => {
    testDb = await createTestDatabase('init_models');
  });
  afterAll(async () => {
    await testDb.drop();
  });
  beforeEach(async () => {
    source = await startSourceServer(json(fixture('quirks.json'), { etag: '"q1"' }));
    kube = await startConfigMapServer();
    kube.put(NS, NAME);
    dir = tempDir('models');
    file = path.join(dir, 'models.json');
  });
  afterEach(async () => {
    await source.close();
    await kube.close();
  });

  const baseEnv = () => ({
    DATABASE_URL: testDb.url,
    MODEL_SOURCE_URL: source.url,
    MODELS_FILE: file,
    // generous: these tests expect the source to answer, also on a machine under heavy load
    MODEL_SOURCE_TIMEOUT: '15s',
    MODEL_SOURCE_RETRIES: '2',
  });
  const withConfigMap = () => ({
    ...baseEnv(),
    MODELS_CONFIGMAP: `${NS}/${NAME}`,
    KUBECONFIG: kube.kubeconfig(dir),
  });
  const configMapArtifact = () => {
    const text = kube.get(NS, NAME)?.data?.[CONFIGMAP_KEY];
    return text ? (JSON.parse(text) as ReturnType<typeof readArtifact>) : undefined;
  };
  /**
   * Calls `then` once `count` runs wait for a lock's holder (its shared form requested, not granted: pg_locks); the
   * models lock in the suite's database unless `on` names another key or database. Having read the cache is not enough: under load a run can read it, then reach the lock only after
   * the holder released it, and that run is a later pod that asks the source itself.
   */
  const onceWaitingOnTheLock = (count: number, then: () => void, on: { key?: string; url?: string } = {}) => {
    const key = on.key ?? LOCK_KEYS.models;
    const client = new pg.Client({ connectionString: on.url ?? testDb.url });
    const waiting = async () => {
      const { rows } = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks
          WHERE locktype = 'advisory' AND mode = 'ShareLock' AND NOT granted
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND ((classid::bigint << 32) | objid::bigint) = $1::bigint`,
        [key],
      );
      return rows[0]!.n;
    };
    const poll = async () => {
      await client.connect();
      while ((await waiting()) < count) await new Promise((resolve) => setTimeout(resolve, 50));
    };
    // Answering anyway when the query fails lets the test fail on what the runs did instead of hanging.
    void poll()
      .catch(() => undefined)
      .finally(() => {
        then();
        void client.end().catch(() => undefined);
      });
  };
  // The source answers only once the other runs wait for the holder: MODELS_FALLBACK_AFTER (3 s) would let the
  // holder fall back before 16 processes have started on a loaded machine, and the next run ask again.
  const patient = { MODEL_SOURCE_TIMEOUT: '60s', MODELS_FALLBACK_AFTER: '60s' };

  it('fetches the messy source, writes the ConfigMap, the file and the report, keeping big stakes exact', async () => {
    const result = await runInit(['models'], withConfigMap());
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const artifact = readArtifact(file);
    expect(artifact.models.map((m) => m.id).sort()).toEqual(
      [
        'llama 3.3 70b',
        'meta/llama-3.3:70b',
        'mistral-31-24b',
        'mystery-model',
        'qwen3-235b',
        'text-embedding: bge/m3',
      ].sort(),
    );
    expect(artifact.models.find((m) => m.id === 'llama 3.3 70b')?.stake).toBe(
      '123456789012345678901234567890',
    );
    expect(artifact.source).toEqual({ url: source.url, etag: '"q1"', lastModified: null });
    expect(artifact.warnings).toEqual(
      expect.arrayContaining([expect.stringMatching(/duplicate Name "qwen3-235b"/)]),
    );
    expect(configMapArtifact()).toEqual(artifact);
    const summary = summaryOf(result);
    expect(summary).toMatchObject({
      command: 'models',
      exitCode: 0,
      artifact: { origin: 'fetched', models: 6, sha256: artifact.sha256, stale: false },
      durations: { models: expect.any(Number), waitDb: expect.any(Number), total: expect.any(Number) },
    });
    expect(JSON.parse(fs.readFileSync(initReportPath(file), 'utf8'))).toEqual(summary);
    expect(source.requests).toHaveLength(1);
  });

  it("fetches over Node's http stack without loading Node's fetch (undici, tens of ms of every start)", async () => {
    const probe = path.join(dir, 'loaded-modules.cjs');
    const report = path.join(dir, 'loaded-modules.json');
    fs.writeFileSync(
      probe,
      `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(report)}, JSON.stringify(process.moduleLoadList)));\n`,
    );
    const result = await runInit(['models'], { ...withConfigMap(), NODE_OPTIONS: `--require ${probe}` });
    expect(result.code).toBe(0);
    expect(source.requests).toHaveLength(1);
    const loaded = JSON.parse(fs.readFileSync(report, 'utf8')) as string[];
    expect(loaded).toContain('NativeModule http');
    expect(loaded.filter((name) => name.includes('undici'))).toEqual([]);
  });

  it('reuses a ConfigMap artifact checked within MODELS_MAX_AGE: no request, no database needed', async () => {
    const fresh = artifactFrom('minimal.json', { url: source.url, ageMs: 60_000 });
    kube.put(NS, NAME, { [CONFIGMAP_KEY]: serializeArtifact(fresh) });
    const unreachable = `postgres://x:y@127.0.0.1:${await freePort()}/none`;
    const result = await runInit(['models'], {
      ...withConfigMap(),
      DATABASE_URL: unreachable,
      DB_WAIT_TIMEOUT: '1s',
    });
    expect(result.code).toBe(0);
    expect(summaryOf(result).artifact.origin).toBe('reused');
    expect(readArtifact(file)).toEqual(fresh);
    expect(source.requests).toHaveLength(0);
    expect(kube.requests.filter((r) => r.method === 'PUT')).toHaveLength(0);
  });

  it('16 concurrent runs over a stale cache: exactly one request reaches the source, all get its result', async () => {
    const stale = artifactFrom('minimal.json', { url: source.url, ageMs: HOUR, etag: '"v1"' });
    kube.put(NS, NAME, { [CONFIGMAP_KEY]: serializeArtifact(stale) });
    // The source answers once the 15 others wait for the one asking.
    const answer = json(fixture('updated.json'), { etag: '"v2"' });
    source.setHandler((...request) => onceWaitingOnTheLock(15, () => answer(...request)));
    // One kubeconfig for all: writing it again while a started process reads it would hand that one a torn file.
    const env = { ...withConfigMap(), ...patient };
    const files = Array.from({ length: 16 }, (_, i) => path.join(dir, `pod-${i}`, 'models.json'));
    const runs = await Promise.all(
      files.map((podFile, i) => runInit(['models'], { ...env, MODELS_FILE: podFile, HOSTNAME: `pod-${i}` })),
    );
    for (const run of runs) expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(source.requests).toHaveLength(1);
    expect(source.requests[0]!.headers['if-none-match']).toBe('"v1"');
    const origins = runs.map((run) => summaryOf(run).artifact.origin).sort();
    expect(origins).toEqual(['fetched', ...Array(15).fill('reused')]);
    // Those that waited for the fetch read its result together instead of taking the lock in turn (which would put
    // their reads one after the other; before the shared wait, all 16 took it).
    const logged = (run: (typeof runs)[number], msg: string) =>
      run.lines.some((l) => l.msg === msg && l.lock === 'models');
    expect(runs.filter((run) => logged(run, 'the lock holder has finished'))).toHaveLength(15);
    expect(runs.filter((run) => logged(run, 'advisory lock acquired'))).toHaveLength(1);
    const published = configMapArtifact()!;
    expect(published.models).toHaveLength(3);
    for (const podFile of files) expect(readArtifact(podFile)).toEqual(published);
  });

  it('16 concurrent runs over a stale cache and a failing source: one request, all fall back to last-known-good', async () => {
    const stale = artifactFrom('minimal.json', { url: source.url, ageMs: HOUR, etag: '"v1"' });
    kube.put(NS, NAME, { [CONFIGMAP_KEY]: serializeArtifact(stale) });
    // A slow failure, as from a source that hangs: it answers only once the 15 others wait for the one asking,
    // then fails.
    source.setHandler((_req, res) =>
      onceWaitingOnTheLock(15, () => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":"down"}');
      }),
    );
    const env = { ...withConfigMap(), ...patient };
    const files = Array.from({ length: 16 }, (_, i) => path.join(dir, `pod-${i}`, 'models.json'));
    const runs = await Promise.all(
      files.map((podFile, i) =>
        runInit(['models'], {
          ...env,
          MODELS_FILE: podFile,
          MODEL_SOURCE_RETRIES: '0',
          HOSTNAME: `pod-${i}`,
        }),
      ),
    );
    for (const run of runs) expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    // Without sharing the failure, each waiting pod would ask again in turn, paying the whole timeout each.
    expect(source.requests).toHaveLength(1);
    expect(runs.map((run) => summaryOf(run).artifact.origin)).toEqual(Array(16).fill('last-known-good'));
    const waited = runs.filter((run) =>
      run.lines.some((l) => l.msg === 'the lock holder has finished' && l.lock === 'models'),
    );
    expect(waited).toHaveLength(15);
    for (const podFile of files)
      expect(readArtifact(podFile)).toMatchObject({ sha256: stale.sha256, stale: true });
    expect(configMapArtifact()).toEqual(stale);
  });

  it('exits 3 when another process holds the models lock past MODELS_LOCK_TIMEOUT', async () => {
    writeArtifactFile(file, artifactFrom('minimal.json', { url: source.url, ageMs: HOUR }));
    const holder = new pg.Client({ connectionString: testDb.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [LOCK_KEYS.models]);
      const result = await runInit(['models'], { ...baseEnv(), MODELS_LOCK_TIMEOUT: '1s' });
      expect(result.code).toBe(3);
      expect(summaryOf(result).error).toMatch(/models lock was not acquired within MODELS_LOCK_TIMEOUT/);
      expect(source.requests).toHaveLength(0);
    } finally {
      await holder.end();
    }
  });

  it('reads file:// sources, and a second run finds them not modified', async () => {
    const sourceFile = path.join(dir, 'source.json');
    fs.copyFileSync(path.join(FIXTURES, 'minimal.json'), sourceFile);
    const env = { ...baseEnv(), MODEL_SOURCE_URL: pathToFileURL(sourceFile).toString(), MODELS_MAX_AGE: '0' };
    const first = await runInit(['models'], env);
    expect(first.code).toBe(0);
    expect(summaryOf(first).artifact).toMatchObject({ origin: 'fetched', models: 2 });
    const second = await runInit(['models'], env);
    expect(second.code).toBe(0);
    expect(summaryOf(second).artifact).toMatchObject({ origin: 'not-modified', models: 2 });
  });

  it('https:// sources work (certificate trusted through NODE_EXTRA_CA_CERTS)', async () => {
    const { key, cert, certFile } = selfSignedCertificate(dir);
    let hits = 0;
    const server = https.createServer({ key, cert }, (_req, res) => {
      hits++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(fixture('minimal.json'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/models.json`;
      const result = await runInit(['models'], {
        ...baseEnv(),
        MODEL_SOURCE_URL: url,
        NODE_EXTRA_CA_CERTS: certFile,
      });
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
      expect(summaryOf(result).artifact).toMatchObject({ origin: 'fetched', models: 2 });
      expect(readArtifact(file).source.url).toBe(url);
      expect(hits).toBe(1);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('conditional requests use If-Modified-Since when the source sends Last-Modified', async () => {
    const lastModified = 'Tue, 24 Nov 2026 09:00:00 GMT';
    source.setHandler((req, res) => {
      if (req.headers['if-modified-since'] === lastModified) return void res.writeHead(304).end();
      res
        .writeHead(200, { 'content-type': 'application/json', 'last-modified': lastModified })
        .end(fixture('minimal.json'));
    });
    const env = { ...baseEnv(), MODELS_MAX_AGE: '0' };
    expect(summaryOf(await runInit(['models'], env)).artifact.origin).toBe('fetched');
    const first = readArtifact(file);
    expect(first.source.lastModified).toBe(lastModified);
    expect(summaryOf(await runInit(['models'], env)).artifact.origin).toBe('not-modified');
    expect(source.requests.map((r) => r.headers['if-modified-since'])).toEqual([undefined, lastModified]);
    expect(readArtifact(file).fetchedAt).toBe(first.fetchedAt);
  });

  it('refresh updates the ConfigMap and never writes the local file', async () => {
    const fresh = artifactFrom('minimal.json', { url: source.url, ageMs: 60_000, etag: '"v1"' });
    kube.put(NS, NAME, { [CONFIGMAP_KEY]: serializeArtifact(fresh) });
    const result = await runInit(['refresh'], withConfigMap());
    expect(result.code).toBe(0);
    expect(summaryOf(result).artifact).toMatchObject({ origin: 'fetched', models: 6 });
    expect(source.requests).toHaveLength(1);
    expect(source.requests[0]!.headers['if-none-match']).toBe('"v1"');
    expect(configMapArtifact()!.models).toHaveLength(6);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('refresh leaves the ConfigMap untouched and exits 1 when the source fails', async () => {
    const held = artifactFrom('minimal.json', { url: source.url, ageMs: HOUR });
    kube.put(NS, NAME, { [CONFIGMAP_KEY]: serializeArtifact(held) });
    source.setHandler((_req, res) => res.writeHead(502).end());
    const result = await runInit(['refresh'], withConfigMap());
    expect(result.code).toBe(1);
    expect(summaryOf(result).error).toMatch(/HTTP 502.*the ConfigMap keeps its artifact checked at/);
    expect(configMapArtifact()).toEqual(held);
  });

  it('refresh without MODELS_CONFIGMAP, or models without MODEL_SOURCE_URL, is a usage error (exit 2)', async () => {
    const refresh = await runInit(['refresh'], baseEnv());
    expect(refresh.code).toBe(2);
    expect(summaryOf(refresh).error).toMatch(/MODELS_CONFIGMAP is not set/);
    const models = await runInit(['models'], { ...baseEnv(), MODEL_SOURCE_URL: undefined });
    expect(models.code).toBe(2);
    expect(summaryOf(models).error).toMatch(/MODEL_SOURCE_URL is required by modelgate-init models/);
  });

  it('a ConfigMap the init ServiceAccount may not update fails with the verb, the object and who was refused', async () => {
    kube.faults.push({ method: 'PUT', status: 403 });
    const result = await runInit(['models'], withConfigMap());
    expect(result.code).toBe(1);
    expect(summaryOf(result).error).toMatch(
      /^forbidden: the current user \(kubeconfig user "tester"\) may not update ConfigMap modelgate\/modelgate-models/,
    );
  });

  describe('all: the scout lock', () => {
    let db: TestDatabase;
    let other: pg.Client;
    beforeEach(async () => {
      db = await createTestDatabase('init_scout');
      other = new pg.Client({ connectionString: db.url });
      await other.connect();
      // Another init reading the cache: it holds the scout lock.
      await other.query('SELECT pg_advisory_lock($1::bigint)', [LOCK_KEYS.scout]);
      const stale = artifactFrom('minimal.json', { url: source.url, ageMs: HOUR, etag: '"v1"' });
      kube.put(NS, NAME, { [CONFIGMAP_KEY]: serializeArtifact(stale) });
    });
    afterEach(async () => {
      await other.end();
      await db.drop();
    });
    const configMapReads = () => kube.requests.filter((r) => r.method === 'GET').length;

    it('a run that finds another reading the cache waits for it before its own first read', async () => {
      const run = startInit(['all'], { ...withConfigMap(), DATABASE_URL: db.url });
      // Blocked in PostgreSQL on the scout's lock: nothing of the Kubernetes API has been asked yet.
      const waiting = new Promise<'waiting'>((resolve) =>
        onceWaitingOnTheLock(1, () => resolve('waiting'), { key: LOCK_KEYS.scout, url: db.url }),
      );
      // A run that does not wait ends (having read the cache) instead.
      expect(await Promise.race([waiting, run.done.then(() => 'ended')])).toBe('waiting');
      expect(configMapReads()).toBe(0);
      await other.query('SELECT pg_advisory_unlock($1::bigint)', [LOCK_KEYS.scout]);
      const result = await run.done;
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
      expect(summaryOf(result).artifact.origin).toBe('fetched');
      expect(result.lines.some((l) => l.msg === 'the lock holder has finished' && l.lock === 'scout')).toBe(
        true,
      );
      expect(configMapReads()).toBeGreaterThan(0);
    });

    it('a scout that never lets go holds a run back for MODELS_LOCK_TIMEOUT at most, and never fails it', async () => {
      const result = await runInit(['all'], {
        ...withConfigMap(),
        DATABASE_URL: db.url,
        MODELS_LOCK_TIMEOUT: '1s',
      });
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
      expect(summaryOf(result).artifact.origin).toBe('fetched');
      expect(result.lines.find((l) => l.level === 'warn' && l.lock === 'scout')?.msg).toBe(
        'the scout has not finished; reading the cache anyway',
      );
    });
  });

  it('all: migrates, then resolves the models, in one report', async () => {
    const db = await createTestDatabase('init_all');
    try {
      const result = await runInit(['all'], { ...withConfigMap(), DATABASE_URL: db.url });
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
      const summary = summaryOf(result);
      expect(summary.migrations.applied.length).toBeGreaterThan(0);
      expect(summary.artifact).toMatchObject({ origin: 'fetched', models: 6 });
      expect(Object.keys(summary.durations).sort()).toEqual(['migrate', 'models', 'total', 'waitDb']);
    } finally {
      await db.drop();
    }
  });
});

import { EventEmitter } from 'node:events';
import path from 'node:path';
import { MIGRATIONS_TABLE } from '../../../core/db/migrations';
import { createLogger } from '../../../core/logger';
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

const ADMIN_TOKEN = 'admin-token-that-must-never-show-up-0123456789';

describe('modelgate-app runtime (real PostgreSQL, real HTTP)', () => {
  let testDb: TestDatabase;
  let runtime: Runtime | undefined;
  const signals = new EventEmitter();
  const exits: number[] = [];

  beforeAll(async () => {
    testDb = await createTestDatabase('app_runtime');
  });
  afterEach(async () => {
    if (runtime && runtime.shutdown.phase() === 'serving') {
      signals.emit('SIGTERM');
      await eventually(() => (runtime!.shutdown.phase() === 'done' ? true : undefined), 10_000, 'shutdown');
    }
    runtime = undefined;
  });
  afterAll(async () => {
    await testDb?.drop();
  });

  const url = (p: string) => `http://127.0.0.1:${runtime!.port}${p}`;
  const get = (p: string) => getJson(url(p));

  /** The log lines of the runtime started last. */
  let logLines: string[] = [];

  async function start(env: Record<string, string>) {
    const api = stubApi();
    logLines = [];
    const logger = createLogger({
      component: 'app',
      level: 'info',
      destination: { write: (line: string) => void logLines.push(line) },
    });
    runtime = await startRuntime({
      config: appConfig({ DATABASE_URL: testDb.url, ADMIN_TOKEN, ...env }),
      logger,
      createApi: api.create,
      exit: (code) => exits.push(code),
      signals,
      schemaRetryMs: 100,
      pollIntervalMs: 60_000,
    });
    return api;
  }

  it('is live but not ready without an artifact and with the schema behind, and says why', async () => {
    const dir = tempDir('runtime-empty');
    await start({ MODELS_FILE: path.join(dir, 'models.json') });
    expect((await get('/livez')).status).toBe(200);
    const ready = await eventually(async () => {
      const r = await get('/readyz');
      return /no migrations applied/.test(r.body.reasons.join(' ')) ? r : undefined;
    });
    expect(ready.status).toBe(503);
    expect(ready.body.status).toBe('not ready');
    expect(ready.body.reasons[0]).toMatch(
      /no valid model artifact .*models\.json: missing.*run modelgate-init/,
    );
    expect(ready.body.reasons[1]).toMatch(/no migrations applied/);
    // The same reasons are in the log, once each.
    const warnings = logLines.map((line) => JSON.parse(line)).filter((r) => r.level === 'warn');
    expect(warnings.map((r) => r.reason)).toEqual(
      expect.arrayContaining([ready.body.reasons[0], ready.body.reasons[1]]),
    );
    expect(warnings).toHaveLength(2);
  });

  it('becomes ready once init has migrated and written the artifact, without restarting', async () => {
    const dir = tempDir('runtime-late');
    const file = path.join(dir, 'models.json');
    const api = await start({ MODELS_FILE: file });
    // The API's background work starts once the first schema check has answered, even one that finds it behind.
    await eventually(() => (api.calls.length > 0 ? true : undefined), 10_000, 'the API start');
    expect(api.calls).toEqual(['start']);
    expect((await get('/readyz')).status).toBe(503);
    await testDb.migrateLatest();
    writeArtifactFile(file, makeArtifact({ count: 4 }));
    // Readiness is noticed (and logged, with how long after process start) when it happens, without a probe.
    const readyLine = await eventually(
      () => logLines.map((line) => JSON.parse(line)).find((r) => r.msg === 'ready'),
      10_000,
      'the ready log line',
    );
    expect(readyLine.sinceStartMs).toBeGreaterThan(0);
    const ready = await get('/readyz');
    expect(ready).toMatchObject({ status: 200, body: { status: 'ready', reasons: [] } });
    const models = await get('/api/v1/models');
    expect(models.body.data).toHaveLength(4);
    expect((await get('/v1/models')).body.data).toHaveLength(4);
    // Started once, not again by the later schema checks.
    expect(api.calls).toEqual(['start']);
  });

  it('is ready with a database ahead of the code', async () => {
    await testDb.migrateLatest();
    await testDb
      .db(MIGRATIONS_TABLE)
      .insert({ name: '29991231000000_from_a_newer_release.js', batch: 99, migration_time: new Date() });
    const dir = tempDir('runtime-ahead');
    const file = path.join(dir, 'models.json');
    writeArtifactFile(file, makeArtifact());
    await start({ MODELS_FILE: file });
    await untilReady(url(''));
    const status = await get('/status');
    expect(status.body.schema).toMatchObject({ state: 'compatible', ahead: true });
    await testDb.db(MIGRATIONS_TABLE).where({ name: '29991231000000_from_a_newer_release.js' }).delete();
  });

  it('keeps an invalid artifact out: not ready, reason given, process up', async () => {
    await testDb.migrateLatest();
    const dir = tempDir('runtime-invalid');
    const file = path.join(dir, 'models.json');
    writeArtifactFile(file, '{"formatVersion":1,"models":[]}');
    await start({ MODELS_FILE: file });
    const ready = await get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.reasons.join(' ')).toMatch(/invalid artifact/);
    expect((await get('/livez')).status).toBe(200);
  });

  it('shows a rich /status without secrets', async () => {
    await testDb.migrateLatest();
    const dir = tempDir('runtime-status');
    const file = path.join(dir, 'models.json');
    writeArtifactFile(
      file,
      makeArtifact({
        count: 2,
        url: 'https://user:s3cretpass@models.example.test/list.json?token=querysecret',
      }),
    );
    await start({
      MODELS_FILE: file,
      HOSTNAME: 'modelgate-app-7d9f-abcde',
      UPSTREAM_API_KEY: 'upstream-key-secret-value',
    });
    await untilReady(url(''));
    const res = await fetch(url('/status'));
    const text = await res.text();
    const body = JSON.parse(text);
    expect(body).toMatchObject({
      status: 'ready',
      ready: true,
      pod: 'modelgate-app-7d9f-abcde',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      models: {
        count: 2,
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        source: 'https://models.example.test/list.json',
        stale: false,
        file,
      },
      schema: { state: 'compatible' },
      api: { revocationListener: 'connected' },
    });
    expect(body.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(body.models.ageSeconds).toBeGreaterThanOrEqual(0);
    for (const secret of [
      ADMIN_TOKEN,
      's3cretpass',
      'querysecret',
      'upstream-key-secret-value',
      'postgres:postgres@',
    ])
      expect(text).not.toContain(secret);
  });

  it('marks an artifact stale when it was checked longer ago than MODELS_MAX_AGE', async () => {
    await testDb.migrateLatest();
    const dir = tempDir('runtime-stale');
    const file = path.join(dir, 'models.json');
    writeArtifactFile(file, makeArtifact({ checkedAt: new Date(Date.now() - 3_600_000).toISOString() }));
    await start({ MODELS_FILE: file, MODELS_MAX_AGE: '10m' });
    const status = await eventually(async () => {
      const r = await get('/status');
      return r.body.ready ? r : undefined;
    });
    expect(status.body.models.stale).toBe(true);
    expect(status.body.models.ageSeconds).toBeGreaterThanOrEqual(3600);
    // Stale is information, not a readiness failure.
    expect(status.body.ready).toBe(true);
  });

  it('stays live and reports the database as unreachable when it cannot connect', async () => {
    const dir = tempDir('runtime-nodb');
    const file = path.join(dir, 'models.json');
    writeArtifactFile(file, makeArtifact());
    await start({ MODELS_FILE: file, DATABASE_URL: 'postgres://nobody:pw-not-shown@127.0.0.1:1/none' });
    const ready = await eventually(async () => {
      const r = await get('/readyz');
      return /cannot read the schema version/.test(r.body.reasons.join(' ')) ? r : undefined;
    });
    expect(ready.status).toBe(503);
    expect(ready.body.reasons.join(' ')).toContain('127.0.0.1:1/none');
    expect(JSON.stringify(ready.body)).not.toContain('pw-not-shown');
    expect((await get('/livez')).status).toBe(200);
  });
});

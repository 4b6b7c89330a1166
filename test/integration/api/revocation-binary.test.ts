import { setTimeout as sleep } from 'node:timers/promises';
import { modelsFile, startAppBinary, type AppProcess } from '../../support/app/app-binary';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { call } from '../../support/http';
import { eventually } from '../../support/wait';

const ADMIN_TOKEN = 'binary-admin-token-0123456789abcdef012345';

/** The pods' LISTEN connections on this file's database. */
const LISTENERS =
  "FROM pg_stat_activity WHERE application_name = 'modelgate-key-revocation' AND datname = current_database()";

jest.setTimeout(60_000);

describe('key revocation across two modelgate-app processes (the built binary) on one database', () => {
  let database: TestDatabase;
  const apps: AppProcess[] = [];
  const listeners = async () =>
    (await database.db.raw(`SELECT count(*)::int AS n ${LISTENERS}`)).rows[0].n as number;

  beforeAll(async () => {
    database = await createTestDatabase('api_revoke_bin');
    await database.migrateLatest();
    const env = {
      DATABASE_URL: database.url,
      MODELS_FILE: modelsFile(),
      ADMIN_TOKEN,
      SHUTDOWN_TIMEOUT: '5s',
    };
    apps.push(...(await Promise.all([startAppBinary(env), startAppBinary(env)])));
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.stop()));
    await database.drop();
  });

  it('a key revoked through one pod is refused by the other within 1 second', async () => {
    const [a, b] = apps as [AppProcess, AppProcess];
    // Both pods hold their LISTEN connection.
    await eventually(
      async () => ((await listeners()) === 2 ? true : undefined),
      10_000,
      'both pods listening',
    );
    const created = await call(a.url, 'POST', '/api/v1/admin/users', ADMIN_TOKEN, { name: 'pods' });
    expect(created.status).toBe(201);
    const owner: string = created.body.key.key;
    const extra = await call(a.url, 'POST', '/v1/auth/keys', owner, { name: 'to revoke' });
    expect((await call(b.url, 'GET', '/v1/models', extra.body.key)).status).toBe(200);
    expect((await call(b.url, 'GET', '/v1/models', extra.body.key)).status).toBe(200);
    // b serves the key from its cache now: only the NOTIFY can evict it before the TTL.
    expect((await call(b.url, 'GET', '/status')).body.api.keyCache.entries).toBeGreaterThanOrEqual(1);

    expect((await call(a.url, 'DELETE', `/v1/auth/keys/${extra.body.id}`, owner)).status).toBe(200);
    // The requirement: one second after the revocation, every pod refuses the key (b had it cached, TTL 30 s).
    // Asserted on a request sent at +1 s, so a slow machine cannot make it flaky by slowing the request itself.
    await sleep(1_000);
    const refused = await call(b.url, 'GET', '/v1/models', extra.body.key);
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('revoked_api_key');
    expect((await call(b.url, 'GET', '/v1/models', owner)).status).toBe(200);
    for (const app of apps) {
      await app.logsWritten();
      expect(app.lines.join('\n')).not.toContain(extra.body.key);
      expect(app.lines.join('\n')).not.toContain(owner);
    }
  });

  it('with its listener cut off, a pod stops caching keys and still refuses a revoked one at once', async () => {
    const [a, b] = apps as [AppProcess, AppProcess];
    const cache = async () => (await call(b.url, 'GET', '/status')).body.api;
    const created = await call(a.url, 'POST', '/api/v1/admin/users', ADMIN_TOKEN, { name: 'listener-cut' });
    const owner: string = created.body.key.key;
    const extra = await call(a.url, 'POST', '/v1/auth/keys', owner, { name: 'to revoke' });
    expect((await call(b.url, 'GET', '/v1/models', extra.body.key)).status).toBe(200);
    await database.db.raw(`SELECT pg_terminate_backend(pid) ${LISTENERS}`);
    await eventually(
      async () => {
        const api = await cache();
        return api.keyCache.enabled === false || api.keyCache.entries === 0 ? true : undefined;
      },
      5_000,
      'b to stop serving keys from its cache',
    );
    expect((await call(a.url, 'DELETE', `/v1/auth/keys/${extra.body.id}`, owner)).status).toBe(200);
    expect((await call(b.url, 'GET', '/v1/models', extra.body.key)).status).toBe(401);
    await eventually(
      async () => {
        const api = await cache();
        return api.revocationListener === 'connected' && api.keyCache.enabled ? true : undefined;
      },
      10_000,
      'b to reconnect its listener and cache again',
    );
  });
});

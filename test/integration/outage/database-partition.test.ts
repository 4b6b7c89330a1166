// Two modelgate-app processes on one database; one is cut off from it (a TCP proxy in the test, stopped) while the
// other revokes a key. The cut-off one serves its cached keys meanwhile and catches up as soon as it reconnects.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from '../../support/wait';
import { modelsFile, startAppBinary, type AppProcess } from '../../support/app/app-binary';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { proxyDatabase, type TcpProxy } from '../../support/tcp-proxy';
import { call } from '../../support/http';
import { ADMIN_TOKEN, createUser } from './support';

jest.setTimeout(120_000);

describe('a pod cut off from the database while another revokes a key', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let a: AppProcess;
  let b: AppProcess;
  let modelsDir: string;

  beforeAll(async () => {
    database = await createTestDatabase('outage_partition');
    await database.migrateLatest();
    const through = await proxyDatabase(database.url);
    proxy = through.proxy;
    const models = modelsFile();
    modelsDir = path.dirname(models);
    const env = { MODELS_FILE: models, ADMIN_TOKEN, LOG_LEVEL: 'info' };
    [a, b] = await Promise.all([
      startAppBinary({ ...env, DATABASE_URL: database.url }),
      startAppBinary({ ...env, DATABASE_URL: through.url }),
    ]);
    for (const app of [a, b]) {
      await eventually(
        async () => {
          const status = await call(app.url, 'GET', '/status');
          return status.body.ready && status.body.api?.keyCache.enabled ? true : undefined;
        },
        30_000,
        'ready, with a trusted key cache',
      );
    }
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await proxy?.stop();
    await database?.drop();
    if (modelsDir) fs.rmSync(modelsDir, { recursive: true, force: true });
  });

  it('refuses the keys revoked during the partition within a second of reconnecting', async () => {
    const owner = await createUser(a.url, 'partition');
    const revocable = async (name: string) => {
      const created = await call(a.url, 'POST', '/v1/auth/keys', owner.key, { name });
      expect(created.status).toBe(201);
      return { id: created.body.id as string, key: created.body.key as string };
    };
    // `asked` is requested right after the reconnection; `untouched` only once b trusts its cache again, so only
    // the catch-up (one query re-reading every cached key) can have told b that it was revoked.
    const asked = await revocable('asked after reconnecting');
    const untouched = await revocable('untouched until the cache is trusted');
    for (const key of [owner.key, asked.key, untouched.key])
      expect((await call(b.url, 'GET', '/v1/models', key)).status).toBe(200);

    await proxy.stop();
    await eventually(
      async () => ((await call(b.url, 'GET', '/status')).body.status === 'degraded' ? true : undefined),
      10_000,
      'b degraded',
    );
    for (const key of [asked, untouched]) {
      expect((await call(b.url, 'GET', '/v1/models', key.key)).status).toBe(200);
      expect((await call(a.url, 'DELETE', `/v1/auth/keys/${key.id}`, owner.key)).status).toBe(200);
      expect((await call(a.url, 'GET', '/v1/models', key.key)).status).toBe(401);
      // b cannot hear of it while cut off: it keeps serving the key it knows (within KEY_CACHE_OUTAGE_TTL).
      expect((await call(b.url, 'GET', '/v1/models', key.key)).status).toBe(200);
    }

    await proxy.start();
    const reconnected = Date.now();
    // How long until b refuses it (for the figures), watched in the background...
    let refusedAfterMs: number | undefined;
    const watching = (async () => {
      while (refusedAfterMs === undefined && Date.now() - reconnected < 10_000) {
        if ((await call(b.url, 'GET', '/v1/models', asked.key)).status === 401)
          refusedAfterMs = Date.now() - reconnected;
        else await sleep(25);
      }
    })();
    // ...and the requirement: a request sent one second after the database is reachable again is refused.
    await sleep(1_000);
    const refused = await call(b.url, 'GET', '/v1/models', asked.key);
    await watching;
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('revoked_api_key');

    const trustedAfterMs =
      (await eventually(
        async () =>
          (await call(b.url, 'GET', '/status')).body.api.keyCache.enabled ? Date.now() : undefined,
        10_000,
        'b trusts its key cache again',
      )) - reconnected;
    const served = await call(b.url, 'GET', '/v1/models', untouched.key);
    expect({ status: served.status, code: served.body.error?.code }).toEqual({
      status: 401,
      code: 'revoked_api_key',
    });
    expect((await call(b.url, 'GET', '/v1/models', owner.key)).status).toBe(200);
    expect((await call(b.url, 'GET', '/status')).body.status).toBe('ready');
    console.log(
      `partition figures: ${JSON.stringify({ refusedAfterReconnectMs: refusedAfterMs, trustedAfterMs })}`,
    );
  });
});

// A database that accepts connections and answers nothing (a TCP proxy in the test that stops delivering, in both
// directions, on open connections and new ones): no request waits longer than DB_CONNECT_TIMEOUT + DB_QUERY_TIMEOUT.
import { eventually } from '../../support/wait';
import type { AppProcess } from '../../support/app/app-binary';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { proxyDatabase, type TcpProxy } from '../../support/tcp-proxy';
import { call, type Answer } from '../../support/http';
import { ADMIN_TOKEN, completion, createUser, startGateway, type Gateway } from './support';

jest.setTimeout(120_000);

const CONNECT_TIMEOUT_MS = 1_000;
const QUERY_TIMEOUT_MS = 4_000;
/** The documented bound, plus room for a loaded machine to schedule the timers and the answer. */
const BOUND_MS = CONNECT_TIMEOUT_MS + QUERY_TIMEOUT_MS;
const SLACK_MS = 1_500;

describe('a database that accepts connections but answers no query', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let gateway: Gateway;
  let app: AppProcess;

  beforeAll(async () => {
    database = await createTestDatabase('outage_hang');
    await database.migrateLatest();
    const through = await proxyDatabase(database.url);
    proxy = through.proxy;
    gateway = await startGateway(through.url, {
      DB_CONNECT_TIMEOUT: `${CONNECT_TIMEOUT_MS}ms`,
      DB_QUERY_TIMEOUT: `${QUERY_TIMEOUT_MS}ms`,
    });
    app = gateway.app;
  });

  afterAll(async () => {
    await gateway?.stop();
    await proxy?.stop();
    await database?.drop();
  });

  it('ends requests that need the database within the bound with 503, and serves known keys meanwhile', async () => {
    const owner = await createUser(app.url, 'hang');
    const unseen = await call(app.url, 'POST', '/v1/auth/keys', owner.key, { name: 'unseen' });
    expect(
      (await call(app.url, 'POST', '/v1/chat/completions', owner.key, completion('before'))).status,
    ).toBe(200);
    // A key with limits, known to this pod: each of its requests takes from the shared count in the database.
    const limited = await createUser(app.url, 'hang-limited');
    const limits = { requests_per_minute: 100 };
    expect(
      (await call(app.url, 'PUT', `/v1/admin/keys/${limited.keyId}/limits`, ADMIN_TOKEN, limits)).status,
    ).toBe(200);
    const counted = await call(app.url, 'POST', '/v1/chat/completions', limited.key, completion('before'));
    expect(counted.headers.get('x-ratelimit-limit-requests')).toBe('100');

    // Several pooled connections open: they will all be stuck once the database stops answering.
    const warm = await Promise.all(
      [1, 2, 3, 4, 5, 6].map(() => call(app.url, 'GET', '/v1/chat-history/chats', owner.key)),
    );
    expect(warm.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);

    proxy.blackhole();
    // Sent at once, before the gateway can know: each waits for the database at most the bound.
    const first: Answer[] = await Promise.all([
      call(app.url, 'GET', '/v1/chat-history/chats', owner.key),
      call(app.url, 'GET', '/v1/auth/keys', owner.key),
      call(app.url, 'POST', '/v1/admin/users', ADMIN_TOKEN, { name: 'during the hang' }),
      call(app.url, 'GET', '/v1/models', unseen.body.key),
    ]);
    for (const answer of first) {
      expect({
        status: answer.status,
        code: answer.body.error?.code,
        retryAfter: answer.headers.get('retry-after'),
      }).toEqual({
        status: 503,
        code: 'database_unavailable',
        retryAfter: '5',
      });
      expect(answer.ms).toBeLessThan(BOUND_MS + SLACK_MS);
    }
    // A known key keeps working (from the cache, or from memory once its lookup gave up).
    const known = await call(app.url, 'POST', '/v1/chat/completions', owner.key, completion('during'));
    expect(known.status).toBe(200);
    expect(known.ms).toBeLessThan(BOUND_MS + SLACK_MS);

    const degraded = await eventually(
      async () => {
        const status = await call(app.url, 'GET', '/status');
        return status.body.status === 'degraded' ? status.body : undefined;
      },
      10_000,
      '/status degraded',
    );
    expect(degraded.database.reason).toMatch(/no answer/);
    // Once the outage is known, what needs the database answers at once.
    const later = await call(app.url, 'GET', '/v1/chat-history/chats', owner.key);
    expect(later.status).toBe(503);
    expect(later.ms).toBeLessThan(1_000);
    // So does a key with limits: its count is not asked for (LIMITS_ON_STORE_ERROR=open admits it, counted).
    const unchecked = await call(app.url, 'POST', '/v1/chat/completions', limited.key, completion('during'));
    expect(unchecked.status).toBe(200);
    expect(unchecked.headers.get('x-ratelimit-limit-requests')).toBeNull();
    expect(unchecked.ms).toBeLessThan(1_000);
    const metrics = await call(app.url, 'GET', '/metrics');
    expect(metrics.body).toMatch(/^modelgate_limits_unchecked_total [1-9]/m);
    console.log(
      `hang figures: ${JSON.stringify({ boundMs: BOUND_MS, firstAnswersMs: first.map((a) => a.ms), knownKeyMs: known.ms, afterDetectionMs: later.ms, limitedKeyMs: unchecked.ms })}`,
    );

    // The network heals for new connections, while the stuck ones stay open and silent (no reset ever comes): the
    // pool discards connections older than the outage and the revocation listener replaces its own, so neither
    // keeps a request or the key cache waiting.
    proxy.healForNew();
    const healed = Date.now();
    const readyAfterMs =
      (await eventually(
        async () =>
          (await call(app.url, 'GET', '/status')).body.status === 'ready' ? Date.now() : undefined,
        30_000,
        '/status ready',
      )) - healed;
    // Waiting on one stuck connection alone would take DB_QUERY_TIMEOUT (the catch-up before "reachable" runs on
    // the pool): back sooner means none was used.
    expect(readyAfterMs).toBeLessThan(QUERY_TIMEOUT_MS);
    const afterwards = await Promise.all(
      [1, 2, 3, 4, 5, 6].map(() => call(app.url, 'GET', '/v1/chat-history/chats', owner.key)),
    );
    expect(afterwards.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(Math.max(...afterwards.map((a) => a.ms))).toBeLessThan(QUERY_TIMEOUT_MS);
    const trustedAfterMs =
      (await eventually(
        async () =>
          (await call(app.url, 'GET', '/status')).body.api.keyCache.enabled ? Date.now() : undefined,
        30_000,
        'the key cache trusted again',
      )) - healed;
    console.log(
      `hang recovery figures: ${JSON.stringify({ readyAfterMs, trustedAfterMs, chatsMs: afterwards.map((a) => a.ms) })}`,
    );
  });
});

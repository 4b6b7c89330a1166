// Two modelgate-app processes on one database; b is cut off from it (a TCP proxy in the test, stopped) while an
// administrator changes a key's policy through a. b keeps applying the policy it knew, and applies the new one as
// soon as it reconnects, though its policy cache would keep the old one for LIMITS_POLICY_CACHE_TTL (10 minutes).
import type { AppProcess } from '../../support/app/app-binary';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { call } from '../../support/http';
import { proxyDatabase, type TcpProxy } from '../../support/tcp-proxy';
import { eventually } from '../../support/wait';
import { ADMIN_TOKEN, completion, createUser, embedding, startGateway, type Gateway } from './support';

jest.setTimeout(120_000);

const CHAT = 'mistral-31-24b';
const EMBEDDING = 'text-embedding';

describe("a pod cut off from the database while another changes a key's policy", () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let gateways: Gateway[] = [];
  let a: AppProcess;
  let b: AppProcess;

  beforeAll(async () => {
    database = await createTestDatabase('outage_policy');
    await database.migrateLatest();
    const through = await proxyDatabase(database.url);
    proxy = through.proxy;
    gateways = await Promise.all([
      startGateway(database.url),
      startGateway(through.url, { LIMITS_POLICY_CACHE_TTL: '10m', LIMITS_ON_STORE_ERROR: 'closed' }),
    ]);
    [a, b] = gateways.map((g) => g.app) as [AppProcess, AppProcess];
  });

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await proxy?.stop();
    await database?.drop();
  });

  const setLimits = async (keyId: string, limits: Record<string, unknown>) => {
    const set = await call(a.url, 'PUT', `/v1/admin/keys/${keyId}/limits`, ADMIN_TOKEN, limits);
    expect(set.status).toBe(200);
  };
  const listed = async (app: AppProcess, key: string) =>
    ((await call(app.url, 'GET', '/v1/models', key)).body.data as { id: string }[]).map((m) => m.id);
  /** What a key gets from an app: a chat completion and an embedding, with the request limit it was told. */
  const served = async (app: AppProcess, key: string) => {
    const chat = await call(app.url, 'POST', '/v1/chat/completions', key, completion('policy'));
    const embedded = await call(app.url, 'POST', '/v1/embeddings', key, embedding('policy'));
    return {
      chat: chat.status === 200 ? 200 : `${chat.status} ${chat.body.error?.code}`,
      embeddings: embedded.status === 200 ? 200 : `${embedded.status} ${embedded.body.error?.code}`,
      limit: embedded.headers.get('x-ratelimit-limit-requests'),
    };
  };

  it('applies the policy it knew while cut off, and the one changed meanwhile on the first request after', async () => {
    const changed = await createUser(a.url, 'policy-changed');
    const limited = await createUser(a.url, 'policy-limited');
    await setLimits(changed.keyId, { allowed_models: [CHAT] });
    await setLimits(limited.keyId, { requests_per_minute: 100 });
    const before = { chat: 200, embeddings: `403 model_not_allowed`, limit: null };
    expect(await served(b, changed.key)).toEqual(before);
    expect(await listed(b, changed.key)).toEqual([CHAT]);
    expect((await call(b.url, 'POST', '/v1/embeddings', limited.key, embedding('x'))).status).toBe(200);

    await proxy.stop();
    await eventually(
      async () => ((await call(b.url, 'GET', '/status')).body.status === 'degraded' ? true : undefined),
      10_000,
      'b degraded',
    );
    await setLimits(changed.keyId, { allowed_models: [EMBEDDING], requests_per_minute: 50 });
    const after = { chat: '403 model_not_allowed', embeddings: 200, limit: '50' };
    expect(await served(a, changed.key)).toEqual(after);

    // b cannot know: the policy it read before applies (its models; no limit, so nothing to count).
    expect(await served(b, changed.key)).toEqual(before);
    expect(await listed(b, changed.key)).toEqual([CHAT]);
    // A key with limits cannot be counted while the database is known to be unreachable: with
    // LIMITS_ON_STORE_ERROR=closed that is 503 with Retry-After at once, without waiting for the database (never 429).
    const refused = await call(b.url, 'POST', '/v1/embeddings', limited.key, embedding('y'));
    expect({
      status: refused.status,
      code: refused.body.error?.code,
      retryAfter: refused.headers.get('retry-after'),
    }).toEqual({ status: 503, code: 'database_unavailable', retryAfter: '5' });
    expect(refused.ms).toBeLessThan(1_000);

    await proxy.start();
    const reconnected = Date.now();
    await eventually(
      async () => ((await call(b.url, 'GET', '/status')).body.status === 'ready' ? true : undefined),
      10_000,
      'b ready again',
    );
    const readyAfterMs = Date.now() - reconnected;
    expect(await served(b, changed.key)).toEqual(after);
    expect(await listed(b, changed.key)).toEqual([EMBEDDING]);
    expect((await call(b.url, 'POST', '/v1/embeddings', limited.key, embedding('z'))).status).toBe(200);

    const metrics = (await call(b.url, 'GET', '/metrics')).body as string;
    expect(metrics).toMatch(/^modelgate_limits_refused_total\{reason="store_unavailable"\} 1$/m);
    // The outage is no failure of the gateway: nothing logged as an error on b.
    await b.logsWritten();
    expect(b.records().filter((r) => r.level === 'error' || r.level === 'fatal')).toEqual([]);
    console.log(`policy partition figures: ${JSON.stringify({ readyAfterMs, refusedMs: refused.ms })}`);
  });
});

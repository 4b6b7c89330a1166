import { startAppBinary, modelsFile, type AppProcess } from '../../support/app/app-binary';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { UpstreamServer } from '../../support/api/upstream-server';
import { call, type Answer } from '../../support/http';
import { eventually } from '../../support/wait';

const ADMIN_TOKEN = 'limits-admin-token-0123456789abcdef0123456';
const MODEL = 'mistral-31-24b';

/** The same body every time, so every request has the same token estimate. */
const completion = { model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'hello limits' }] };
/** What the gateway reserves for `completion`: its JSON bytes / 4, plus max_tokens. */
const ESTIMATE = Math.ceil(Buffer.byteLength(JSON.stringify(completion)) / 4) + 50;

/** `total` chat completions with at most `inFlight` at once, the i-th sent to `apps[i % apps.length]`. */
async function load(apps: AppProcess[], token: string, total: number, inFlight: number): Promise<Answer[]> {
  const replies: Answer[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      replies.push(await call(apps[i % apps.length]!.url, 'POST', '/v1/chat/completions', token, completion));
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return replies;
}

jest.setTimeout(120_000);

describe('limits held by three modelgate-app processes on one PostgreSQL', () => {
  let database: TestDatabase;
  let upstream: UpstreamServer;
  let apps: AppProcess[];
  let closed: AppProcess;
  let keyNumber = 0;

  /** A new user's key with `limits` set through the first app. */
  async function limitedKey(limits: Record<string, unknown>): Promise<{ id: string; key: string }> {
    keyNumber += 1;
    const created = await call(apps[0]!.url, 'POST', '/v1/admin/users', ADMIN_TOKEN, {
      name: `u${keyNumber}`,
    });
    expect(created.status).toBe(201);
    const { id, key } = created.body.key as { id: string; key: string };
    const set = await call(apps[0]!.url, 'PUT', `/v1/admin/keys/${id}/limits`, ADMIN_TOKEN, limits);
    expect(set.status).toBe(200);
    return { id, key };
  }

  beforeAll(async () => {
    database = await createTestDatabase('limits_replicas');
    await database.migrateLatest();
    upstream = await new UpstreamServer().start();
    const env = {
      DATABASE_URL: database.url,
      MODELS_FILE: modelsFile(),
      UPSTREAM_URL: upstream.url,
      ADMIN_TOKEN,
      SHUTDOWN_TIMEOUT: '5s',
    };
    apps = await Promise.all([0, 1, 2].map(() => startAppBinary(env)));
    closed = await startAppBinary({ ...env, LIMITS_ON_STORE_ERROR: 'closed' });
  });

  afterAll(async () => {
    await Promise.all([...(apps ?? []), closed].filter(Boolean).map((app) => app.stop()));
    await upstream?.close();
    await database?.drop();
  });

  it('admit exactly 120 of 600 requests spread over all three for 120 requests per minute', async () => {
    const { key } = await limitedKey({ requests_per_minute: 120 });
    const before = upstream.requests.length;
    const replies = await load(apps, key, 600, 30);
    const accepted = replies.filter((r) => r.status === 200);
    const refused = replies.filter((r) => r.status === 429);
    // Leases can only make the replicas admit fewer than the limit (permits held unspent when the window ends);
    // the load keeps every replica asking until the shared count is spent, so none are left unspent here.
    expect(accepted.length).toBeLessThanOrEqual(120);
    expect(accepted.length).toBeGreaterThanOrEqual(117);
    expect(accepted.length + refused.length).toBe(600);
    expect(upstream.requests.length - before).toBe(accepted.length);

    const ok = accepted[0]!;
    expect(ok.headers.get('x-ratelimit-limit-requests')).toBe('120');
    expect(Number(ok.headers.get('x-ratelimit-remaining-requests'))).toBeLessThanOrEqual(120);
    expect(ok.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+ms|[\d.]+s|\d+m[\d.]+s)$/);
    const no = refused[0]!;
    expect(no.body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    expect(no.body.error.message).toContain('requests per minute');
    const retryAfter = Number(no.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(no.headers.get('x-ratelimit-limit-requests')).toBe('120');
    // A replica tells what the window had left when it last heard from the store: 0 once it learned the window was
    // spent, and no more than the leases' slack (the 3 permits the admitted count may fall short by) while another
    // replica's last lease is news to it.
    const remaining = refused.map((r) => Number(r.headers.get('x-ratelimit-remaining-requests')));
    expect(Math.min(...remaining)).toBe(0);
    expect(Math.max(...remaining)).toBeLessThanOrEqual(3);
  });

  it('admit requests up to 1 200 tokens per minute across the three, settled with the real counts', async () => {
    const limit = 1_200;
    const { key } = await limitedKey({ tokens_per_minute: limit });
    const before = upstream.requests.length;
    const replies = await load(apps, key, 600, 30);
    const accepted = replies.filter((r) => r.status === 200);
    const refused = replies.filter((r) => r.status === 429);
    expect(accepted.length + refused.length).toBe(600);
    expect(upstream.requests.length - before).toBe(accepted.length);
    // What the upstream reported (3 tokens per answer) is what is charged: never over the limit together, and far
    // more requests than the estimate alone would let through (each reservation is refunded down to its real count).
    const used = accepted.reduce((n, r) => n + (r.body.usage.total_tokens as number), 0);
    expect(used).toBe(accepted.length * 3);
    expect(used).toBeLessThanOrEqual(limit);
    expect(accepted.length).toBeGreaterThan(Math.floor(limit / ESTIMATE));
    const no = refused[0]!;
    expect(no.body.error.code).toBe('rate_limit_exceeded');
    expect(no.body.error.message).toContain(`needs an estimated ${ESTIMATE}`);
    expect(no.headers.get('x-ratelimit-limit-tokens')).toBe(String(limit));
    expect(no.headers.get('retry-after')).toMatch(/^\d+$/);
    // Once the replicas have given back the permits they held unspent (after 1 s idle), the shared count holds
    // exactly the tokens the upstream reported.
    const window = await eventually(
      async () => {
        const own = await call(apps[1]!.url, 'GET', '/v1/limits', key);
        const tokens = own.body.windows.find((w: { limit: string }) => w.limit === 'tokens_per_minute');
        expect(tokens.used).toBeLessThanOrEqual(limit);
        return tokens.used === used ? tokens : undefined;
      },
      10_000,
      'the tokens window to hold the real counts',
      200,
    );
    expect(window).toMatchObject({ max: limit, used, remaining: limit - used });
  });

  it('refuse 50 concurrent requests past a monthly budget with insufficient_quota', async () => {
    const budget = ESTIMATE * 20;
    const { id, key } = await limitedKey({ monthly_token_budget: budget });
    // Each admitted request is settled down to its real count (3 tokens) once its answer is in, which frees budget for
    // requests still arriving; the upstream holds its answers until all 50 are decided, so the estimate alone counts.
    upstream.delayMs = 5_000;
    const replies = await load(apps, key, 50, 50).finally(() => (upstream.delayMs = 0));
    const accepted = replies.filter((r) => r.status === 200).length;
    expect(accepted).toBeLessThanOrEqual(20);
    expect(accepted).toBeGreaterThanOrEqual(17);
    const no = replies.find((r) => r.status === 429)!;
    expect(no.body.error).toMatchObject({ type: 'rate_limit_error', code: 'insufficient_quota' });
    expect(no.body.error.message).toContain('monthly token budget');
    // The reset is the first of next month (UTC): Retry-After says so in seconds.
    const now = new Date();
    const nextMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
    expect(Number(no.headers.get('retry-after'))).toBeGreaterThan((nextMonth - Date.now()) / 1000 - 120);

    const own = await call(apps[2]!.url, 'GET', '/v1/limits', key);
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ object: 'key_limits', key_id: id });
    const window = own.body.windows.find((w: { limit: string }) => w.limit === 'monthly_token_budget');
    expect(window).toMatchObject({ max: budget, resets_at: new Date(nextMonth).toISOString() });
    expect(window.used).toBeLessThanOrEqual(budget);
  });

  it('answer 403 model_not_allowed outside the allowed models (chat and embeddings) and list only those', async () => {
    const { key } = await limitedKey({ allowed_models: ['mistral-*', 'meta/llama:8b'] });
    const models = await call(apps[1]!.url, 'GET', '/v1/models', key);
    expect(models.status).toBe(200);
    expect(models.body.data.map((m: { id: string }) => m.id).sort()).toEqual([
      'meta/llama:8b',
      'mistral-31-24b',
    ]);
    const before = upstream.requests.length;
    const refused = await call(apps[1]!.url, 'POST', '/v1/chat/completions', key, {
      ...completion,
      model: 'llama 3.3 70b',
    });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: 'model_not_allowed', param: 'model' });
    expect(upstream.requests.length).toBe(before);
    expect((await call(apps[2]!.url, 'GET', '/v1/models/llama%203.3%2070b', key)).status).toBe(403);
    expect((await call(apps[2]!.url, 'POST', '/v1/chat/completions', key, completion)).status).toBe(200);
    // Embeddings are admitted by the same policy.
    const embedding = { model: 'text-embedding', input: 'hello limits' };
    const outside = await call(apps[0]!.url, 'POST', '/v1/embeddings', key, embedding);
    expect(outside.status).toBe(403);
    expect(outside.body.error).toMatchObject({ code: 'model_not_allowed', param: 'model' });
    expect(upstream.requests.length).toBe(before + 1);
    const counted = await limitedKey({ requests_per_minute: 1 });
    const first = await call(apps[0]!.url, 'POST', '/v1/embeddings', counted.key, embedding);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit-requests')).toBe('1');
    const second = await call(apps[1]!.url, 'POST', '/v1/embeddings', counted.key, embedding);
    expect(second.status).toBe(429);
    expect(second.body.error.code).toBe('rate_limit_exceeded');
  });

  it('admit unchecked (open, counted) or refuse with 503 (closed) while the limit store does not answer', async () => {
    const open = await limitedKey({ requests_per_minute: 5 });
    const shut = await limitedKey({ requests_per_minute: 5 });
    const unlimited = await limitedKey({});
    // Every statement on the counts waits behind this lock until the app's store timeout (2 s) cancels it.
    const trx = await database.db.transaction();
    try {
      await trx.raw('LOCK TABLE limit_windows IN ACCESS EXCLUSIVE MODE');
      const admitted = await call(apps[0]!.url, 'POST', '/v1/chat/completions', open.key, completion);
      expect(admitted.status).toBe(200);
      expect(admitted.headers.get('x-ratelimit-limit-requests')).toBeNull();
      const refused = await call(closed.url, 'POST', '/v1/chat/completions', shut.key, completion);
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe('database_unavailable');
      expect(refused.headers.get('retry-after')).toBe('5');
      // A key without limits needs no count, whatever the setting.
      expect((await call(closed.url, 'POST', '/v1/chat/completions', unlimited.key, completion)).status).toBe(
        200,
      );
    } finally {
      await trx.rollback();
    }
    const metrics = await (await fetch(`${apps[0]!.url}/metrics`)).text();
    expect(metrics).toMatch(/^modelgate_limits_unchecked_total 1$/m);
    expect(metrics).toMatch(
      /^modelgate_limits_store_round_trips_total\{operation="take",result="error"\} [1-9]/m,
    );
    const closedMetrics = await (await fetch(`${closed.url}/metrics`)).text();
    expect(closedMetrics).toMatch(/^modelgate_limits_refused_total\{reason="store_unavailable"\} 1$/m);

    const checked = await call(closed.url, 'POST', '/v1/chat/completions', shut.key, completion);
    expect(checked.status).toBe(200);
    expect(checked.headers.get('x-ratelimit-limit-requests')).toBe('5');
    await closed.logsWritten();
    expect(closed.lines.join('\n')).toContain('LIMITS_ON_STORE_ERROR=closed');
  });
});

import type { Response } from 'express';
import { Registry } from 'prom-client';
import { createLogger } from '../../../../core/logger';
import { FakeHealth } from '../../../../app/database-health-fake';
import { FakeCounterStore } from '../../../../app/api/limits/counter-store-fake';
import { LeaseLimiter } from '../../../../app/api/limits/lease-limiter';
import { createLimitsMetrics } from '../../../../app/api/limits/limits-metrics';
import { LimitsService, type StoreErrorPolicy } from '../../../../app/api/limits/limits-service';
import { UNSET_POLICY, type LimitPolicy } from '../../../../app/api/limits/policy';
import { PolicyCache } from '../../../../app/api/limits/policy-cache';
import { FakePolicyStore } from '../../../../app/api/limits/policy-store-fake';
import type { CompletionRecord } from '../../../../app/api/usage/completion-record';
import { ApiError } from '../../../../app/http/errors';

const WINDOW = 60_000;
const caller = { keyId: 'key-1', userId: 'user-1' };
/** What node-postgres rejects with when the database refuses the connection. */
const connectionRefused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

/** Wired as createLimits does: the limiter and the policy cache ask the health first, failures are reported to it. */
function setup(onStoreError: StoreErrorPolicy = 'open') {
  let clock = 1_000_000;
  const now = () => clock;
  const counters = new FakeCounterStore(now, WINDOW);
  const policies = new FakePolicyStore();
  policies.addKey(caller.keyId, caller.userId);
  const registry = new Registry();
  const metrics = createLimitsMetrics(registry);
  const health = new FakeHealth();
  const limiter = new LeaseLimiter(counters, {
    storeReachable: () => health.reachable(),
    leaseMs: 100,
    headroomShare: 8,
    idleReturnMs: 1_000,
    recheckMs: 250,
    windowMs: WINDOW,
    now,
  });
  const cache = new PolicyCache(policies, {
    ttlMs: 10_000,
    maxEntries: 100,
    now,
    health,
  });
  health.on('up', () => cache.markStale());
  const service = new LimitsService({
    policies: cache,
    store: policies,
    counters,
    limiter,
    onStoreError,
    health,
    defaultCompletionTokens: 100,
    metrics,
    logger: createLogger({ component: 'limits-test', level: 'silent' }),
    now,
  });
  let n = 0;
  /** Admits one chat completion of `bodyBytes` and `maxTokens`; resolves with its headers or the error. */
  const admit = async (maxTokens = 100, bodyBytes = 400) => {
    const headers: Record<string, string> = {};
    const res = { setHeader: (name: string, value: string) => (headers[name.toLowerCase()] = value) };
    const requestId = `req-${++n}`;
    try {
      await service.admit(
        {
          caller,
          endpoint: 'chat',
          model: 'm',
          body: { max_tokens: maxTokens },
          bodyBytes,
          requestId,
        },
        res as unknown as Response,
      );
      return { ok: true as const, headers, requestId };
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      return { ok: false as const, headers, requestId, error };
    }
  };
  const setKey = (policy: Partial<LimitPolicy>) =>
    policies.keyPolicies.set(caller.keyId, { ...UNSET_POLICY, ...policy });
  return {
    service,
    counters,
    policies,
    registry,
    health,
    admit,
    setKey,
    advance: (ms: number) => (clock += ms),
  };
}

const record = (requestId: string, promptTokens: number, completionTokens: number): CompletionRecord => ({
  requestId,
  keyId: caller.keyId,
  userId: caller.userId,
  kind: 'chat',
  model: 'm',
  upstream: 'u',
  upstreamModel: 'm',
  status: 200,
  promptTokens,
  completionTokens,
  estimated: false,
  durationMs: 10,
  ttftMs: 5,
  at: new Date(),
});

describe('LimitsService', () => {
  it('reserves tokens on the estimate and gives back what the completion did not use', async () => {
    const { admit, setKey, service } = setup();
    setKey({ tokensPerMinute: 1_000 }); // each request is estimated at 100 + 100 tokens
    const admitted = [];
    for (let i = 0; i < 5; i++) admitted.push(await admit());
    expect(admitted.every((a) => a.ok)).toBe(true);
    const refused = await admit();
    expect(refused.ok).toBe(false);
    expect(refused.error?.status).toBe(429);
    expect(refused.error?.headers['Retry-After']).toMatch(/^\d+$/);
    // Each of the five used 10 tokens: 950 of the 1000 are free again, room for four more estimates of 200.
    for (const a of admitted) service.onCompletion(record(a.requestId, 4, 6));
    expect(service.pendingCount).toBe(0);
    const more = [];
    for (let i = 0; i < 4; i++) more.push(await admit());
    expect(more.every((a) => a.ok)).toBe(true);
    expect((await admit()).ok).toBe(false);
  });

  it('charges what a completion used beyond its reservation', async () => {
    const { admit, setKey, service } = setup();
    setKey({ tokensPerMinute: 1_000 });
    const first = await admit();
    service.onCompletion(record(first.requestId, 300, 500)); // 800 used where 200 were reserved
    expect((await admit()).ok).toBe(true); // 800 + 200 = 1000
    const refused = await admit();
    expect(refused.ok).toBe(false);
    expect(refused.error?.message).toContain('tokens per minute');
  });

  it('refuses a request whose estimate alone is over the tokens per minute, naming the estimate', async () => {
    const { admit, setKey } = setup();
    setKey({ tokensPerMinute: 150 });
    const refused = await admit(100, 400);
    expect(refused.ok).toBe(false);
    expect(refused.error?.message).toContain('Request too large');
    expect(refused.error?.message).toContain(
      'estimated 200 tokens (100 for the input, 100 for the completion)',
    );
  });

  it('admits unchecked and counts it while the store fails, when LIMITS_ON_STORE_ERROR=open', async () => {
    const { admit, setKey, counters, registry, health } = setup('open');
    setKey({ requestsPerMinute: 10 });
    counters.failing = connectionRefused();
    const admitted = await admit();
    expect(admitted.ok).toBe(true);
    expect(admitted.headers['x-ratelimit-limit-requests']).toBeUndefined();
    expect(await registry.getSingleMetricAsString('modelgate_limits_unchecked_total')).toMatch(/ 1$/m);
    // The failure starts an outage check, so the next requests do not wait for the database too.
    expect(health.reported).toEqual([counters.failing]);
  });

  it('refuses with 503 database_unavailable while the store fails, when LIMITS_ON_STORE_ERROR=closed', async () => {
    const { admit, setKey, counters, registry, health } = setup('closed');
    setKey({ requestsPerMinute: 10 });
    counters.failing = connectionRefused();
    const refusal = await admit();
    expect(refusal.error?.status).toBe(503);
    expect(refusal.error?.toJSON().error.code).toBe('database_unavailable');
    expect(refusal.error?.headers['Retry-After']).toBe('5');
    expect(health.reported).toHaveLength(1);
    expect(await registry.getSingleMetricAsString('modelgate_limits_refused_total')).toContain(
      'reason="store_unavailable"} 1',
    );
    counters.failing = undefined;
    expect((await admit()).ok).toBe(true);
  });

  it('answers 500 for a store failure that is no outage (a bug), neither admitting nor counting it', async () => {
    for (const onStoreError of ['open', 'closed'] as const) {
      const { admit, setKey, counters, registry, health } = setup(onStoreError);
      setKey({ requestsPerMinute: 10 });
      counters.failing = Object.assign(new Error('column "lim" does not exist'), { code: '42703' });
      await expect(admit()).rejects.toThrow('column "lim" does not exist');
      expect(await registry.getSingleMetricAsString('modelgate_limits_unchecked_total')).toMatch(/ 0$/m);
      expect(await registry.getSingleMetricAsString('modelgate_limits_refused_total')).toContain(
        'reason="store_unavailable"} 0',
      );
      expect(health.reported).toEqual([]);
    }
  });

  it('does not ask the store during a known outage: closed answers 503 at once (never 429), open admits, counted', async () => {
    const closed = setup('closed');
    closed.setKey({ requestsPerMinute: 1 });
    expect((await closed.admit()).ok).toBe(true); // the one request of this window: the next would be a 429
    closed.health.down();
    const takes = closed.counters.takes;
    const refusal = await closed.admit();
    expect({
      status: refusal.error?.status,
      code: refusal.error?.toJSON().error.code,
      retryAfter: refusal.error?.headers['Retry-After'],
    }).toEqual({ status: 503, code: 'database_unavailable', retryAfter: '5' });
    expect(closed.counters.takes).toBe(takes);

    const open = setup('open');
    open.setKey({ requestsPerMinute: 10, tokensPerMinute: 10_000 });
    expect((await open.admit()).ok).toBe(true);
    open.health.down();
    const before = open.counters.takes;
    for (let i = 0; i < 3; i++) expect((await open.admit()).ok).toBe(true);
    expect(open.counters.takes).toBe(before);
    expect(open.counters.adjustments).toEqual([]);
    expect(await open.registry.getSingleMetricAsString('modelgate_limits_unchecked_total')).toMatch(/ 3$/m);
  });

  it('keeps the policy of a known key through an outage and applies a change made meanwhile once it is over', async () => {
    const { admit, setKey, policies, health, advance } = setup('open');
    setKey({ allowedModels: ['m'] });
    expect((await admit()).ok).toBe(true);
    health.down();
    setKey({ allowedModels: ['other'] }); // made through another pod while this one cannot read
    advance(60_000); // far past the cache TTL: the policy read before the outage is still the one used
    const reads = policies.reads;
    expect((await admit()).ok).toBe(true);
    expect(policies.reads).toBe(reads);
    await health.up();
    const after = await admit();
    expect(after.error?.toJSON().error.code).toBe('model_not_allowed');
  });

  it('reads a policy again after an outage even within the cache TTL, and keeps the old one while that fails', async () => {
    const { admit, setKey, policies, health } = setup('closed');
    setKey({ allowedModels: ['m'] });
    expect((await admit()).ok).toBe(true);
    health.down();
    await health.up();
    policies.failing = connectionRefused(); // down again before the first request
    expect((await admit()).ok).toBe(true);
    expect(health.reported).toEqual([policies.failing]);
    policies.failing = undefined;
    setKey({ allowedModels: ['other'] });
    expect((await admit()).error?.toJSON().error.code).toBe('model_not_allowed');
  });

  it('uses the user default where the key sets nothing, and the key value where it does', async () => {
    const { admit, setKey, policies } = setup();
    policies.userPolicies.set(caller.userId, { ...UNSET_POLICY, requestsPerMinute: 2, allowedModels: ['x'] });
    setKey({ allowedModels: ['m'] });
    expect((await admit()).ok).toBe(true);
    expect((await admit()).ok).toBe(true);
    const third = await admit();
    expect(third.ok).toBe(false);
    expect(third.headers['x-ratelimit-limit-requests']).toBe('2');
  });
});

import type { Response } from 'express';
import { Registry } from 'prom-client';
import { createLogger } from '../../../../core/logger';
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

function setup(onStoreError: StoreErrorPolicy = 'open') {
  let clock = 1_000_000;
  const now = () => clock;
  const counters = new FakeCounterStore(now, WINDOW);
  const policies = new FakePolicyStore();
  policies.addKey(caller.keyId, caller.userId);
  const registry = new Registry();
  const metrics = createLimitsMetrics(registry);
  const limiter = new LeaseLimiter(counters, {
    leaseMs: 100,
    headroomShare: 8,
    idleReturnMs: 1_000,
    recheckMs: 250,
    windowMs: WINDOW,
    now,
  });
  const service = new LimitsService({
    policies: new PolicyCache(policies, { ttlMs: 10_000, maxEntries: 100, now }),
    store: policies,
    counters,
    limiter,
    onStoreError,
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
  return { service, counters, policies, registry, admit, setKey, advance: (ms: number) => (clock += ms) };
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
    const { admit, setKey, counters, registry } = setup('open');
    setKey({ requestsPerMinute: 10 });
    counters.failing = new Error('connection refused');
    const admitted = await admit();
    expect(admitted.ok).toBe(true);
    expect(admitted.headers['x-ratelimit-limit-requests']).toBeUndefined();
    expect(await registry.getSingleMetricAsString('modelgate_limits_unchecked_total')).toMatch(/ 1$/m);
  });

  it('refuses with 503 database_unavailable while the store fails, when LIMITS_ON_STORE_ERROR=closed', async () => {
    const { admit, setKey, counters, registry } = setup('closed');
    setKey({ requestsPerMinute: 10 });
    counters.failing = new Error('connection refused');
    const refused = await admit();
    expect(refused.error?.status).toBe(503);
    expect(refused.error?.toJSON().error.code).toBe('database_unavailable');
    expect(await registry.getSingleMetricAsString('modelgate_limits_refused_total')).toContain(
      'reason="store_unavailable"} 1',
    );
    counters.failing = undefined;
    expect((await admit()).ok).toBe(true);
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

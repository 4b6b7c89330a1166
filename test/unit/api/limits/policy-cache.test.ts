import { FakeHealth } from '../../../../app/database-health-fake';
import { UNSET_POLICY } from '../../../../app/api/limits/policy';
import { PolicyCache } from '../../../../app/api/limits/policy-cache';
import { FakePolicyStore } from '../../../../app/api/limits/policy-store-fake';
import { StoreUnreachableError } from '../../../../app/api/limits/store-unreachable';

const TTL = 10_000;

function setup() {
  let clock = 1_000_000;
  const store = new FakePolicyStore();
  store.addKey('key-1', 'user-1');
  store.addKey('key-2', 'user-1');
  const health = new FakeHealth();
  const cache = new PolicyCache(store, { ttlMs: TTL, maxEntries: 100, now: () => clock, health });
  const allow = (keyId: string, model: string) =>
    store.keyPolicies.set(keyId, { ...UNSET_POLICY, allowedModels: [model] });
  return { store, health, cache, allow, advance: (ms: number) => (clock += ms) };
}

describe('PolicyCache', () => {
  it('answers from memory during a known outage, however old, without asking the database', async () => {
    const { store, health, cache, allow, advance } = setup();
    allow('key-1', 'a');
    expect((await cache.get('key-1', 'user-1')).allowedModels).toEqual(['a']);
    health.down();
    advance(10 * TTL);
    const reads = store.reads;
    expect((await cache.get('key-1', 'user-1')).allowedModels).toEqual(['a']);
    // A key never read has no policy to fall back on: the caller decides (LIMITS_ON_STORE_ERROR).
    await expect(cache.get('key-2', 'user-1')).rejects.toBeInstanceOf(StoreUnreachableError);
    expect(store.reads).toBe(reads);
  });

  it('reads every policy again after markStale, within the TTL, keeping the old one while the read fails', async () => {
    const { store, health, cache, allow } = setup();
    allow('key-1', 'a');
    await cache.get('key-1', 'user-1');
    allow('key-1', 'b');
    expect((await cache.get('key-1', 'user-1')).allowedModels).toEqual(['a']); // fresh: not read again
    cache.markStale();
    expect(cache.fresh('key-1')).toBeUndefined();
    const outage = new Error('Connection terminated unexpectedly');
    store.failing = outage;
    expect((await cache.get('key-1', 'user-1')).allowedModels).toEqual(['a']);
    expect(health.reported).toEqual([outage]);
    store.failing = undefined;
    expect((await cache.get('key-1', 'user-1')).allowedModels).toEqual(['b']);
    expect(cache.fresh('key-1')?.allowedModels).toEqual(['b']);
  });

  it('does not hide a failing read that is no outage behind the policy it holds', async () => {
    const { store, health, cache, advance } = setup();
    await cache.get('key-1', 'user-1');
    advance(TTL);
    store.failing = Object.assign(new Error('syntax error at or near "FORM"'), { code: '42601' });
    await expect(cache.get('key-1', 'user-1')).rejects.toThrow('syntax error');
    expect(health.reported).toEqual([]);
  });
});

import { isDatabaseUnavailable } from '../../../core/db/errors';
import type { DatabaseHealth } from '../../database-health';
import { effectivePolicy, type EffectivePolicy } from './policy';
import type { PolicyStore } from './policy-store';
import { StoreUnreachableError } from './store-unreachable';

export interface PolicyCacheOptions {
  /** How long a key's effective policy is used without reading it again: the bound on a change taking effect. */
  ttlMs: number;
  maxEntries: number;
  /**
   * During a known outage a policy is not read: the last one read is used, however old. A read that fails for
   * unavailability and is answered from memory is reported.
   */
  health?: Pick<DatabaseHealth, 'reachable' | 'reportFailure'>;
  now?: () => number;
}

interface Entry {
  policy: EffectivePolicy;
  loadedAt: number;
}

/**
 * Effective policies by key id, so the hot path reads no policy row per request. A change made through this
 * process invalidates at once; one made elsewhere is seen within `ttlMs`. While the database cannot be read, the
 * last policy read is used however old it is (a key known before an outage keeps its limits), and without asking
 * while the outage is known; `markStale` when it is over makes every policy be read again on its next use, so a
 * change missed meanwhile applies at once instead of after `ttlMs`.
 */
export class PolicyCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<EffectivePolicy>>();
  /** Bumped by every invalidation, so a read that raced with one is used once but not kept. */
  private epoch = 0;
  private readonly now: () => number;

  constructor(
    private readonly store: Pick<PolicyStore, 'findForKey'>,
    private readonly options: PolicyCacheOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** The cached policy while it is fresh, without a promise; undefined when it must be read. */
  fresh(keyId: string): EffectivePolicy | undefined {
    const entry = this.entries.get(keyId);
    return entry && this.now() - entry.loadedAt < this.options.ttlMs ? entry.policy : undefined;
  }

  get(keyId: string, userId: string): Promise<EffectivePolicy> {
    const fresh = this.fresh(keyId);
    if (fresh) return Promise.resolve(fresh);
    if (this.options.health?.reachable() === false) {
      const known = this.entries.get(keyId);
      return known ? Promise.resolve(known.policy) : Promise.reject(new StoreUnreachableError());
    }
    let pending = this.loading.get(keyId);
    if (!pending) {
      pending = this.load(keyId, userId).finally(() => this.loading.delete(keyId));
      this.loading.set(keyId, pending);
    }
    return pending;
  }

  invalidateKey(keyId: string): void {
    this.epoch += 1;
    this.entries.delete(keyId);
  }

  invalidateUser(userId: string): void {
    this.epoch += 1;
    for (const [keyId, entry] of this.entries) if (entry.policy.userId === userId) this.entries.delete(keyId);
  }

  /** Every policy is read again on its next use; until that read succeeds, the one held is still used. */
  markStale(): void {
    this.epoch += 1;
    for (const entry of this.entries.values()) entry.loadedAt = Number.NEGATIVE_INFINITY;
  }

  clear(): void {
    this.epoch += 1;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private async load(keyId: string, userId: string): Promise<EffectivePolicy> {
    const epoch = this.epoch;
    let found;
    try {
      found = await this.store.findForKey(keyId);
    } catch (error) {
      const stale = this.entries.get(keyId);
      // Only an outage is answered from memory; a bug is not hidden behind an old policy.
      if (!stale || !isDatabaseUnavailable(error)) throw error;
      this.options.health?.reportFailure(error);
      return stale.policy;
    }
    const policy = effectivePolicy(
      { keyId, userId: found?.userId ?? userId },
      found?.user ?? null,
      found?.key ?? null,
    );
    if (epoch === this.epoch) this.remember(keyId, policy);
    return policy;
  }

  private remember(keyId: string, policy: EffectivePolicy): void {
    this.entries.delete(keyId);
    if (this.entries.size >= this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(keyId, { policy, loadedAt: this.now() });
  }
}

import type { Response } from 'express';
import { isDatabaseUnavailable } from '../../../core/db/errors';
import type { Logger } from '../../../core/logger';
import type { DatabaseHealth } from '../../database-health';
import type { Principal } from '../keys/key-service';
import type { CompletionListener, CompletionRecord } from '../usage/completion-record';
import type { CounterStore, Dimension } from './counter-store';
import { estimateTokens, type TokenEstimate } from './estimate';
import type { LeaseLimiter, LimitState, Need, Reservation } from './lease-limiter';
import { limitsUnavailable, ModelNotAllowedError, RateLimitError } from './limit-errors';
import type { LimitsMetrics } from './limits-metrics';
import { effectivePolicy, UNSET_POLICY, type EffectivePolicy, type LimitPolicy } from './policy';
import type { PolicyCache } from './policy-cache';
import type { PolicyStore } from './policy-store';
import { formatReset, retryAfterSeconds, setRateLimitHeaders } from './rate-limit-headers';
import { StoreUnreachableError } from './store-unreachable';

/** LIMITS_ON_STORE_ERROR: what a request whose limits cannot be checked gets. */
export type StoreErrorPolicy = 'open' | 'closed';

export interface AdmissionInput {
  caller: Principal;
  endpoint: 'chat' | 'embeddings';
  /** The model's public name. */
  model: string;
  body: Record<string, unknown>;
  /** The request body's size in bytes, for the prompt estimate. */
  bodyBytes: number;
  requestId: string;
}

export interface LimitsServiceOptions {
  policies: PolicyCache;
  store: PolicyStore;
  counters: Pick<CounterStore, 'read'>;
  limiter: LeaseLimiter;
  onStoreError: StoreErrorPolicy;
  /** Told of every failure that means the database is unavailable, so the outage is detected (and then not waited for). */
  health?: Pick<DatabaseHealth, 'reportFailure'>;
  defaultCompletionTokens: number;
  metrics: LimitsMetrics;
  logger: Logger;
  now?: () => number;
  /** Reservations awaiting their completion are forgotten after this long (a completion that never reports). */
  pendingTtlMs?: number;
  maxPending?: number;
}

/** A key's limits as its owner or an administrator reads them. */
export interface KeyLimitsView {
  keyId: string;
  userId: string;
  key: LimitPolicy;
  user: LimitPolicy;
  effective: EffectivePolicy;
  windows: WindowView[];
}

/** One limit's current window as the shared count holds it. */
export interface WindowView {
  dimension: Dimension;
  limit: number;
  /** Handed out in the window; it includes permits replicas hold unspent, so it may run ahead of the requests. */
  used: number;
  remaining: number;
  /** Null for a per-minute window not running (the next request starts one). */
  resetsAt: Date | null;
}

interface Pending {
  reservation: Reservation;
  estimate: TokenEstimate;
  at: number;
}

const PER_MINUTE: Record<Exclude<Dimension, 'budget'>, string> = {
  requests: 'requests per minute',
  tokens: 'tokens per minute',
};

/**
 * The rules of a key's policy: which models it may use, and whether a request fits its per-minute limits and
 * monthly budget, checked before anything is sent upstream. Tokens are reserved on an estimate and settled with
 * the real count when the completion reports it (CompletionListener).
 */
export class LimitsService implements CompletionListener {
  private readonly pending = new Map<string, Pending>();
  private readonly now: () => number;
  private storeFailing = false;

  constructor(private readonly options: LimitsServiceOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Throws an ApiError to refuse; the x-ratelimit-* headers are set on `res` either way. */
  async admit(input: AdmissionInput, res: Response): Promise<void> {
    const { limiter, metrics } = this.options;
    const policy = await this.policyOf(input.caller);
    if (!policy) return;
    if (!policy.allows(input.model)) {
      metrics.refused.inc({ reason: 'model_not_allowed' });
      throw new ModelNotAllowedError(input.model);
    }
    if (policy.unlimited) return;
    const estimate = estimateTokens(
      input.endpoint,
      input.body,
      input.bodyBytes,
      this.options.defaultCompletionTokens,
    );
    const needs = needsOf(policy, estimate);
    if (policy.tokensPerMinute !== null && estimate.total > policy.tokensPerMinute)
      this.refuseTooLarge(policy.tokensPerMinute, estimate, res, limiter.states(policy.keyId, needs));
    let decision;
    try {
      decision = await limiter.acquire(policy.keyId, needs);
      this.storeRecovered();
    } catch (error) {
      this.storeFailed(error);
      return;
    }
    setRateLimitHeaders(res, decision.states);
    if (!decision.ok) this.refuse(decision.refusedBy, decision.retryAfterMs, estimate, decision.states);
    this.remember(input.requestId, { reservation: decision.reservation, estimate, at: this.now() });
  }

  /** Whether the caller may use a model (what GET /v1/models lists); undefined when every model is allowed. */
  async modelFilter(caller: Principal): Promise<((model: string) => boolean) | undefined> {
    const policy = await this.policyOf(caller);
    return policy && policy.allowedModels !== null ? policy.allows : undefined;
  }

  /** Settles a completion's reservation with what it really used: a refund, or a charge for what it used beyond. */
  onCompletion(record: CompletionRecord): void {
    const pending = this.pending.get(record.requestId);
    if (!pending) return;
    this.pending.delete(record.requestId);
    const used = record.promptTokens + record.completionTokens;
    for (const item of pending.reservation.items) {
      if (item.dimension === 'requests') continue;
      const keyId = pending.reservation.keyId;
      if (used < item.amount)
        this.options.limiter.refund(keyId, item.dimension, item.windowEnd, item.amount - used);
      else this.options.limiter.charge(keyId, item.dimension, item.windowEnd, used - item.amount);
    }
  }

  /** A completion that reported no count: the estimate stands, nothing is left to settle. */
  forget(requestId: string): void {
    this.pending.delete(requestId);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Read from the database (not the cache), so an administrator sees what was just set. */
  async keyLimits(keyId: string): Promise<KeyLimitsView | undefined> {
    const own = await this.options.store.getKey(keyId);
    if (!own) return undefined;
    const user = (await this.options.store.getUser(own.userId)) ?? { ...UNSET_POLICY };
    const effective = effectivePolicy({ keyId, userId: own.userId }, user, own.policy);
    const stored = await this.options.counters.read(keyId);
    const windows = limitsOf(effective).map(({ dimension, limit }): WindowView => {
      const window = stored.windows.find((w) => w.dimension === dimension && w.windowEnd > stored.now);
      const used = window?.taken ?? 0;
      const resetsAt = window
        ? new Date(window.windowEnd)
        : dimension === 'budget'
          ? nextMonth(stored.now)
          : null;
      return { dimension, limit, used, remaining: Math.max(0, limit - used), resetsAt };
    });
    return { keyId, userId: own.userId, key: own.policy, user, effective, windows };
  }

  getUserLimits(userId: string): Promise<LimitPolicy | undefined> {
    return this.options.store.getUser(userId);
  }

  async setUserLimits(userId: string, policy: LimitPolicy): Promise<LimitPolicy | undefined> {
    const saved = await this.options.store.setUser(userId, policy);
    if (saved) this.options.policies.invalidateUser(userId);
    return saved;
  }

  async setKeyLimits(keyId: string, policy: LimitPolicy): Promise<LimitPolicy | undefined> {
    const saved = await this.options.store.setKey(keyId, policy);
    if (saved) this.options.policies.invalidateKey(keyId);
    return saved?.policy;
  }

  /** The caller's effective policy; undefined when it could not be read and the setting is to admit (open). */
  private async policyOf(caller: Principal): Promise<EffectivePolicy | undefined> {
    const fresh = this.options.policies.fresh(caller.keyId);
    if (fresh) return fresh;
    try {
      const policy = await this.options.policies.get(caller.keyId, caller.userId);
      this.storeRecovered();
      return policy;
    } catch (error) {
      this.storeFailed(error);
      return undefined;
    }
  }

  /**
   * The database is unavailable (or known to be): open admits, counted; closed answers 503. Any other failure is a
   * bug, rethrown (a 500), never a reason to admit unchecked.
   */
  private storeFailed(error: unknown): void {
    if (!(error instanceof StoreUnreachableError)) {
      if (!isDatabaseUnavailable(error)) throw error;
      this.options.health?.reportFailure(error);
    }
    if (!this.storeFailing) {
      this.storeFailing = true;
      this.options.logger.warn(
        { err: error, onStoreError: this.options.onStoreError },
        this.options.onStoreError === 'open'
          ? 'limits cannot be checked (the database cannot be reached); admitting requests unchecked (LIMITS_ON_STORE_ERROR=open)'
          : 'limits cannot be checked (the database cannot be reached); refusing limited requests with 503 (LIMITS_ON_STORE_ERROR=closed)',
      );
    }
    if (this.options.onStoreError === 'open') {
      this.options.metrics.unchecked.inc();
      return;
    }
    this.options.metrics.refused.inc({ reason: 'store_unavailable' });
    throw limitsUnavailable();
  }

  private storeRecovered(): void {
    if (!this.storeFailing) return;
    this.storeFailing = false;
    this.options.logger.info('limits can be checked again');
  }

  private refuse(
    dimension: Dimension,
    retryAfterMs: number,
    estimate: TokenEstimate,
    states: readonly LimitState[],
  ): never {
    const state = states.find((s) => s.dimension === dimension)!;
    const retry = retryAfterSeconds(retryAfterMs);
    if (dimension === 'budget') {
      this.options.metrics.refused.inc({ reason: 'quota' });
      const resets = new Date(this.now() + state.resetMs).toISOString();
      throw new RateLimitError(
        `This API key's monthly token budget (${state.limit} tokens per calendar month, UTC) has ${state.remaining} tokens left and this request needs an estimated ${estimate.total} (${describe(estimate)}); the budget resets at ${resets}. Ask an administrator to raise it, or lower max_tokens.`,
        'insufficient_quota',
        retry,
      );
    }
    this.options.metrics.refused.inc({
      reason: dimension === 'requests' ? 'rate_limit_requests' : 'rate_limit_tokens',
    });
    const needed =
      dimension === 'tokens'
        ? `, this request needs an estimated ${estimate.total} (${describe(estimate)})`
        : '';
    throw new RateLimitError(
      `Rate limit reached for ${PER_MINUTE[dimension]} on this API key: limit ${state.limit}, remaining ${state.remaining}${needed}. Please try again in ${formatReset(retryAfterMs)}.`,
      'rate_limit_exceeded',
      retry,
    );
  }

  private refuseTooLarge(limit: number, estimate: TokenEstimate, res: Response, states: LimitState[]): never {
    setRateLimitHeaders(res, states);
    this.options.metrics.refused.inc({ reason: 'rate_limit_tokens' });
    throw new RateLimitError(
      `Request too large for this API key: it needs an estimated ${estimate.total} tokens (${describe(estimate)}), more than its limit of ${limit} tokens per minute. Lower max_tokens or shorten the input.`,
      'rate_limit_exceeded',
      60,
    );
  }

  private remember(requestId: string, pending: Pending): void {
    const ttl = this.options.pendingTtlMs ?? 15 * 60_000;
    const max = this.options.maxPending ?? 100_000;
    const now = this.now();
    for (const [id, entry] of this.pending) {
      if (this.pending.size < max && now - entry.at < ttl) break;
      this.pending.delete(id);
    }
    this.pending.set(requestId, pending);
  }
}

function needsOf(policy: EffectivePolicy, estimate: TokenEstimate): Need[] {
  const needs: Need[] = [];
  if (policy.requestsPerMinute !== null)
    needs.push({ dimension: 'requests', amount: 1, limit: policy.requestsPerMinute });
  if (policy.tokensPerMinute !== null)
    needs.push({ dimension: 'tokens', amount: estimate.total, limit: policy.tokensPerMinute });
  if (policy.monthlyTokenBudget !== null)
    needs.push({ dimension: 'budget', amount: estimate.total, limit: policy.monthlyTokenBudget });
  return needs;
}

function limitsOf(policy: EffectivePolicy): { dimension: Dimension; limit: number }[] {
  return needsOf(policy, { prompt: 0, completion: 0, total: 0 }).map(({ dimension, limit }) => ({
    dimension,
    limit,
  }));
}

function nextMonth(now: number): Date {
  const date = new Date(now);
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1));
}

function describe(estimate: TokenEstimate): string {
  return `${estimate.prompt} for the input, ${estimate.completion} for the completion`;
}

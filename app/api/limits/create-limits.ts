import type { Knex } from 'knex';
import type { Registry } from 'prom-client';
import type { AppConfig } from '../../../core/config';
import { isDatabaseUnavailable } from '../../../core/db/errors';
import type { Logger } from '../../../core/logger';
import type { DatabaseHealth } from '../../database-health';
import { KnexCounterStore } from './counter-store-knex';
import { LeaseLimiter } from './lease-limiter';
import { createLimitsMetrics } from './limits-metrics';
import { LimitsService } from './limits-service';
import { PolicyCache } from './policy-cache';
import { KnexPolicyStore } from './policy-store-knex';

/** Timings of the limiter with production defaults; tests shorten the window. */
export interface LimitsTuning {
  /** A requests or tokens window: one minute. */
  windowMs: number;
  leaseMs: number;
  headroomShare: number;
  idleReturnMs: number;
  recheckMs: number;
  /** A take or give-back the database has not answered within this fails (then LIMITS_ON_STORE_ERROR decides). */
  storeTimeoutMs: number;
  policyCacheMaxEntries: number;
}

/**
 * The figures bench:limiter measured the lease limiter with (docs/benchmarks.md): a lease is 100 ms of a key's
 * demand on a replica and at most 1/8 of what its window has left; permits idle for a second go back.
 */
export const defaultLimitsTuning: LimitsTuning = {
  windowMs: 60_000,
  leaseMs: 100,
  headroomShare: 8,
  idleReturnMs: 1_000,
  recheckMs: 250,
  storeTimeoutMs: 2_000,
  policyCacheMaxEntries: 10_000,
};

export interface LimitsDeps {
  config: Readonly<AppConfig>;
  db: Knex;
  logger: Logger;
  registry: Registry;
  /** The app's outage detector: during a known outage the store is not asked; when it ends policies are re-read. */
  health: Pick<DatabaseHealth, 'reachable' | 'reportFailure' | 'on'>;
  tuning?: Partial<LimitsTuning>;
}

export interface LimitsModule {
  service: LimitsService;
  /** Starts giving idle permits back. */
  start(): void;
  /** Gives back every permit this process holds, so a stopping replica takes nothing from the others. */
  close(): Promise<void>;
}

/** Per-key policy and limits over the app's PostgreSQL: the stores, the policy cache, the lease limiter. */
export function createLimits(deps: LimitsDeps): LimitsModule {
  const tuning = { ...defaultLimitsTuning, ...deps.tuning };
  const metrics = createLimitsMetrics(deps.registry);
  const counters = new KnexCounterStore(deps.db, {
    windowMs: tuning.windowMs,
    statementTimeoutMs: tuning.storeTimeoutMs,
  });
  const policies = new KnexPolicyStore(deps.db);
  const { health } = deps;
  const limiter = new LeaseLimiter(counters, {
    storeReachable: () => health.reachable(),
    leaseMs: tuning.leaseMs,
    headroomShare: tuning.headroomShare,
    idleReturnMs: tuning.idleReturnMs,
    recheckMs: tuning.recheckMs,
    windowMs: tuning.windowMs,
    onRoundTrip: (operation, seconds, ok) => {
      metrics.storeRoundTrips.inc({ operation, result: ok ? 'ok' : 'error' });
      metrics.storeDuration.observe({ operation }, seconds);
    },
    onAdjustError: (error) => {
      if (isDatabaseUnavailable(error)) {
        health.reportFailure(error);
        return; // the outage is logged once by the detector
      }
      deps.logger.warn(
        { err: error },
        'giving permits back to the limit store failed; the window ends anyway',
      );
    },
  });
  const cache = new PolicyCache(policies, {
    ttlMs: deps.config.limits.policyCacheTtlMs,
    maxEntries: tuning.policyCacheMaxEntries,
    health,
  });
  // A change made while this process could not read (an outage, or a partition of this pod alone) applies on the
  // next request after it ends, not up to LIMITS_POLICY_CACHE_TTL later.
  health.on('up', () => cache.markStale());
  const service = new LimitsService({
    policies: cache,
    store: policies,
    counters,
    limiter,
    onStoreError: deps.config.limits.onStoreError,
    health,
    defaultCompletionTokens: deps.config.limits.defaultCompletionTokens,
    metrics,
    logger: deps.logger,
  });
  return {
    service,
    start: () => limiter.start(),
    close: () => limiter.close(),
  };
}

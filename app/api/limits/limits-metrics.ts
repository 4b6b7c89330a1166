import { Counter, Histogram, type Registry } from 'prom-client';

export const refusalReasons = [
  'rate_limit_requests',
  'rate_limit_tokens',
  'quota',
  'model_not_allowed',
  'store_unavailable',
] as const;
export type RefusalReason = (typeof refusalReasons)[number];

export interface LimitsMetrics {
  refused: Counter<'reason'>;
  /** Admitted without a check because the store could not be asked (LIMITS_ON_STORE_ERROR=open). */
  unchecked: Counter;
  storeRoundTrips: Counter<'operation' | 'result'>;
  storeDuration: Histogram<'operation'>;
}

const byRegistry = new WeakMap<Registry, LimitsMetrics>();

export function createLimitsMetrics(registry: Registry): LimitsMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const metrics: LimitsMetrics = {
    refused: new Counter({
      name: 'modelgate_limits_refused_total',
      help: 'Requests refused by a key policy, by reason.',
      labelNames: ['reason'],
      registers,
    }),
    unchecked: new Counter({
      name: 'modelgate_limits_unchecked_total',
      help: 'Requests admitted without checking their limits because the limit store could not be reached (LIMITS_ON_STORE_ERROR=open).',
      registers,
    }),
    storeRoundTrips: new Counter({
      name: 'modelgate_limits_store_round_trips_total',
      help: 'Round trips to the limit store (take: permits leased; adjust: given back or charged), by result.',
      labelNames: ['operation', 'result'],
      registers,
    }),
    storeDuration: new Histogram({
      name: 'modelgate_limits_store_duration_seconds',
      help: 'Duration of round trips to the limit store.',
      labelNames: ['operation'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
  };
  for (const reason of refusalReasons) metrics.refused.inc({ reason }, 0);
  for (const operation of ['take', 'adjust'])
    for (const result of ['ok', 'error']) metrics.storeRoundTrips.inc({ operation, result }, 0);
  byRegistry.set(registry, metrics);
  return metrics;
}

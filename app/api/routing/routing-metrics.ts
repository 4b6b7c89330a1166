import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { breakerStates, type BreakerState } from './breaker';

/**
 * The routing metrics, on an injected Registry. Labels stay bounded: `upstream` is a name from the routing file
 * and `model` a model of the catalog (unknown names are refused before routing).
 */
export interface RoutingMetrics {
  /** Attempts sent upstream; `status_code` is the upstream's, or `none` when it never answered. */
  requests: Counter<'upstream' | 'model' | 'status_code'>;
  /** Attempts that failed or targets passed over, by reason. */
  errors: Counter<'upstream' | 'model' | 'reason'>;
  /** Moves from one target to the next; `upstream` is the one left behind. */
  failovers: Counter<'upstream' | 'model' | 'reason'>;
  timeToFirstByte: Histogram<'upstream' | 'model'>;
  timeToFirstToken: Histogram<'upstream' | 'model'>;
  duration: Histogram<'upstream' | 'model' | 'status_code'>;
  breakerState: Gauge<'upstream' | 'state'>;
  breakerTransitions: Counter<'upstream' | 'state'>;
  inFlight: Gauge<'upstream'>;
  reloads: Counter<'result'>;
  fileValid: Gauge;
  generation: Gauge;
}

export const routingReloadResults = ['applied', 'unchanged', 'rejected'] as const;

const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

const byRegistry = new WeakMap<Registry, RoutingMetrics>();

/** Idempotent per registry, like app/metrics.ts. */
export function createRoutingMetrics(registry: Registry): RoutingMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const metrics: RoutingMetrics = {
    requests: new Counter({
      name: 'modelgate_upstream_requests_total',
      help: 'Requests sent to upstreams (each failover attempt counts), by upstream, model and the upstream status code (none: no answer).',
      labelNames: ['upstream', 'model', 'status_code'],
      registers,
    }),
    errors: new Counter({
      name: 'modelgate_upstream_errors_total',
      help: 'Upstream attempts that failed, or targets passed over, by reason: connect, timeout, status_5xx, status_429, auth, not_found, status_4xx, breaker_open, throttled, busy, aborted (the client left), broken (a stream cut midway).',
      labelNames: ['upstream', 'model', 'reason'],
      registers,
    }),
    failovers: new Counter({
      name: 'modelgate_upstream_failovers_total',
      help: 'Moves to the next target before the first byte, by the upstream left behind and why.',
      labelNames: ['upstream', 'model', 'reason'],
      registers,
    }),
    timeToFirstByte: new Histogram({
      name: 'modelgate_upstream_time_to_first_byte_seconds',
      help: 'From sending a request upstream to its response headers, for the attempts that answered 2xx.',
      labelNames: ['upstream', 'model'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    timeToFirstToken: new Histogram({
      name: 'modelgate_upstream_time_to_first_token_seconds',
      help: 'Streams: from the client request to the first data event passed on, failovers included.',
      labelNames: ['upstream', 'model'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    duration: new Histogram({
      name: 'modelgate_upstream_request_duration_seconds',
      help: 'Served requests: from sending upstream to the end of the body or stream, by upstream status code.',
      labelNames: ['upstream', 'model', 'status_code'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    }),
    breakerState: new Gauge({
      name: 'modelgate_upstream_breaker_state',
      help: "Each upstream's circuit breaker: 1 for its current state (closed, open, half_open), 0 for the others.",
      labelNames: ['upstream', 'state'],
      registers,
    }),
    breakerTransitions: new Counter({
      name: 'modelgate_upstream_breaker_transitions_total',
      help: 'Circuit breaker changes by upstream and the state entered.',
      labelNames: ['upstream', 'state'],
      registers,
    }),
    inFlight: new Gauge({
      name: 'modelgate_upstream_in_flight',
      help: 'Requests in flight per upstream (what maxConcurrency caps).',
      labelNames: ['upstream'],
      registers,
    }),
    reloads: new Counter({
      name: 'modelgate_routing_reloads_total',
      help: 'Routing file reads by result: applied (now in force), unchanged (same content), rejected (invalid; the routing in force stays).',
      labelNames: ['result'],
      registers,
    }),
    fileValid: new Gauge({
      name: 'modelgate_routing_file_valid',
      help: '1 when the routing file as it is now is the routing in force, 0 when its current content was rejected.',
      registers,
    }),
    generation: new Gauge({
      name: 'modelgate_routing_generation',
      help: 'How many routing files this process has put in force (1 after start; +1 per applied reload).',
      registers,
    }),
  };
  for (const result of routingReloadResults) metrics.reloads.inc({ result }, 0);
  byRegistry.set(registry, metrics);
  return metrics;
}

export function recordBreakerState(metrics: RoutingMetrics, upstream: string, state: BreakerState): void {
  for (const each of breakerStates)
    metrics.breakerState.set({ upstream, state: each }, each === state ? 1 : 0);
}

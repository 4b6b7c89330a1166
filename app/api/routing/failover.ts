import type http from 'node:http';
import type { ArtifactModel } from '../../../core/artifact/schema';
import type { Logger } from '../../../core/logger';
import type { AttemptFailure, AttemptFailureReason, SendAttempt } from './attempt';
import type { BreakerPermit, BreakerVerdict } from './breaker';
import type { CancelSignal } from './client-gone';
import { noUpstreamAnswered, notRouted, type RoutingError } from './routing-errors';
import type { RouteTable } from './route-table';
import type { RoutingSettings } from './routing-file';
import type { RoutingMetrics } from './routing-metrics';
import type { Endpoint, Upstream } from './upstream';

/** The routing in force at the moment a request arrived; a reload never changes it under a running request. */
export interface RoutingSnapshot {
  readonly table: RouteTable;
  readonly upstreams: ReadonlyMap<string, Upstream>;
  readonly settings: RoutingSettings;
}

export interface FailoverRequest {
  endpoint: Endpoint;
  /** The catalog model the client asked for. */
  model: ArtifactModel;
  /** The client's body; `model` is replaced per target. */
  body: Record<string, unknown>;
  stream: boolean;
  requestId: string;
  /** Aborted when the client went away. */
  signal: CancelSignal;
}

/** A target that answered 2xx: the caller now owns its response and its concurrency place. */
export interface Committed {
  upstream: Upstream;
  /** The model name the upstream was sent. */
  sentModel: string;
  permit: BreakerPermit;
  request: http.ClientRequest;
  response: http.IncomingMessage;
  attempts: number;
  failovers: number;
  /** When the routing started, the committed request was sent, and its headers arrived (ms since epoch). */
  startedAt: number;
  sentAt: number;
  headersAt: number;
}

/** No target answered: what the client is told (or nothing, when it went away), and what was tried. */
export interface NotServed {
  error: RoutingError | 'client_gone';
  attempts: number;
  failovers: number;
}

export type FailoverResult = ({ ok: true } & Committed) | ({ ok: false } & NotServed);

export type SkipReason = 'breaker_open' | 'throttled' | 'busy';

/** What became of one target of the plan. */
export interface TargetOutcome {
  upstream: string;
  reason: AttemptFailureReason | SkipReason;
  status?: number;
  /** When this upstream may be called again (ms since epoch): its Retry-After, or its breaker's trial. */
  retryAt?: number;
  upstreamMessage?: string;
}

export interface FailoverDeps {
  send: SendAttempt;
  metrics: RoutingMetrics;
  logger: Logger;
  now: () => number;
  random: () => number;
}

/** Whether a failure moves on to the next target, and what it tells the upstream's breaker. */
const FAILURE_RULES: Record<AttemptFailureReason, { failover: boolean; verdict: BreakerVerdict }> = {
  connect: { failover: true, verdict: 'failure' },
  timeout: { failover: true, verdict: 'failure' },
  status_5xx: { failover: true, verdict: 'failure' },
  auth: { failover: true, verdict: 'failure' },
  status_429: { failover: true, verdict: 'neutral' },
  not_found: { failover: true, verdict: 'neutral' },
  // The request's own fault (e.g. a context window it does not fit): every upstream would say the same.
  status_4xx: { failover: false, verdict: 'success' },
  aborted: { failover: false, verdict: 'neutral' },
};

/**
 * The body as JSON with `model` set to the name this target is sent, as `{ ...body, model }` would write it (same
 * key order) without copying the client's object: a spread of an object of any shape takes V8's slow, generic path.
 * The body is this request's own (the validator's output) and is put back as it was before anything else runs.
 */
export function payloadFor(body: Record<string, unknown>, model: string): Buffer {
  const had = Object.hasOwn(body, 'model');
  const asked = body.model;
  body.model = model;
  try {
    return Buffer.from(JSON.stringify(body));
  } finally {
    if (had) body.model = asked;
    else delete body.model;
  }
}

/**
 * Tries the targets of a model's route in order until one answers 2xx, within the routing deadline: a target whose
 * breaker is open, that asked not to be called yet (Retry-After), or that is at its concurrency cap is passed over;
 * connect errors, timeouts, 5xx, 429, refused credentials and 404 move on to the next; any other 4xx is the
 * client's answer. Nothing has reached the client yet, so moving on is always safe.
 */
export async function failover(
  snapshot: RoutingSnapshot,
  request: FailoverRequest,
  deps: FailoverDeps,
): Promise<FailoverResult> {
  const { metrics, logger, now } = deps;
  const model = request.model.id;
  const plan = snapshot.table.plan(request.model, deps.random);
  if (!plan || plan.length === 0)
    return { ok: false, error: notRouted(request.model), attempts: 0, failovers: 0 };
  const startedAt = now();
  const deadline = startedAt + snapshot.settings.deadline;
  const outcomes: TargetOutcome[] = [];
  let attempts = 0;
  let deadlineHit = false;

  const passOver = (index: number, outcome: TargetOutcome) => {
    outcomes.push(outcome);
    metrics.errors.inc({ upstream: outcome.upstream, model, reason: outcome.reason });
    if (index < plan.length - 1)
      metrics.failovers.inc({ upstream: outcome.upstream, model, reason: outcome.reason });
  };

  for (const [index, target] of plan.entries()) {
    const upstream = snapshot.upstreams.get(target.upstream)!;
    const throttledUntil = upstream.throttledUntil();
    if (throttledUntil !== undefined) {
      passOver(index, { upstream: upstream.name, reason: 'throttled', retryAt: throttledUntil });
      continue;
    }
    const permit = upstream.breaker.tryAcquire();
    if (!permit) {
      passOver(index, { upstream: upstream.name, reason: 'breaker_open', retryAt: upstream.breaker.retryAt });
      continue;
    }
    if (!upstream.tryReserve()) {
      upstream.breaker.settle(permit, 'neutral');
      passOver(index, { upstream: upstream.name, reason: 'busy' });
      continue;
    }
    const remaining = deadline - now();
    if (remaining <= 0) {
      upstream.breaker.settle(permit, 'neutral');
      upstream.release();
      deadlineHit = true;
      break;
    }
    const timeoutMs = Math.min(upstream.timeoutMs, remaining);
    attempts += 1;
    const sentAt = now();
    const result = await deps.send({
      upstream,
      endpoint: request.endpoint,
      payload: payloadFor(request.body, target.model),
      stream: request.stream,
      requestId: request.requestId,
      timeoutMs,
      signal: request.signal,
      now,
    });
    if (result.ok) {
      const headersAt = now();
      upstream.breaker.settle(permit, 'success');
      metrics.requests.inc({
        upstream: upstream.name,
        model,
        status_code: String(result.response.statusCode),
      });
      metrics.timeToFirstByte.observe({ upstream: upstream.name, model }, (headersAt - sentAt) / 1000);
      return {
        ok: true,
        upstream,
        sentModel: target.model,
        permit,
        request: result.request,
        response: result.response,
        attempts,
        failovers: outcomes.length,
        startedAt,
        sentAt,
        headersAt,
      };
    }
    upstream.release();
    const rule = FAILURE_RULES[result.reason];
    upstream.breaker.settle(permit, rule.verdict);
    if (result.reason === 'aborted') {
      metrics.errors.inc({ upstream: upstream.name, model, reason: 'aborted' });
      return { ok: false, error: 'client_gone', attempts, failovers: outcomes.length };
    }
    metrics.requests.inc({ upstream: upstream.name, model, status_code: String(result.status ?? 'none') });
    if (result.retryAt !== undefined) upstream.throttle(result.retryAt);
    logAttempt(logger, request, upstream, result);
    const outcome: TargetOutcome = {
      upstream: upstream.name,
      reason: result.reason,
      status: result.status,
      retryAt: result.retryAt,
      upstreamMessage: result.upstreamMessage,
    };
    if (!rule.failover) {
      outcomes.push(outcome);
      metrics.errors.inc({ upstream: upstream.name, model, reason: result.reason });
      break;
    }
    passOver(index, outcome);
    if (result.reason === 'timeout' && timeoutMs < upstream.timeoutMs) {
      deadlineHit = true;
      break;
    }
  }
  const error = noUpstreamAnswered(outcomes, {
    deadlineHit,
    deadlineMs: snapshot.settings.deadline,
    attempts,
    now: now(),
  });
  return { ok: false, error, attempts, failovers: outcomes.filter((o) => o.reason !== 'status_4xx').length };
}

function logAttempt(
  logger: Logger,
  request: FailoverRequest,
  upstream: Upstream,
  failure: AttemptFailure,
): void {
  logger.warn(
    {
      requestId: request.requestId,
      upstream: upstream.name,
      model: request.model.id,
      reason: failure.reason,
      status: failure.status,
      detail: failure.detail,
    },
    'upstream attempt failed',
  );
}

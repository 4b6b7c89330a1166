import type { ArtifactModel } from '../../../core/artifact/schema';
import { BadGatewayError, StatusError, type ApiErrorOptions, type ErrorType } from '../../http/errors';
import type { TargetOutcome } from './failover';

/** An error of the routing, with the headers its answer carries (Retry-After), set by the error handler. */
export class RoutingError extends StatusError {
  constructor(
    status: number,
    type: ErrorType,
    message: string,
    options: ApiErrorOptions,
    headers: Readonly<Record<string, string>> = {},
  ) {
    super(status, message, { ...options, type });
    this.headers = { ...headers };
  }
}

export function notConfigured(): RoutingError {
  return new RoutingError(
    503,
    'service_unavailable',
    'This gateway has no upstream configured (neither ROUTING_FILE nor UPSTREAM_URL is set); an operator must set one.',
    { code: 'upstream_not_configured' },
  );
}

export function notRouted(model: ArtifactModel): RoutingError {
  return new RoutingError(
    503,
    'service_unavailable',
    `The model ${JSON.stringify(model.id)} is in the catalog but no route of the routing file serves it; an operator must add one.`,
    { code: 'model_not_routed', param: 'model' },
  );
}

const UNAVAILABLE_NOW = new Set<TargetOutcome['reason']>(['throttled', 'status_429', 'breaker_open', 'busy']);

function retryAfterHeader(outcomes: readonly TargetOutcome[], now: number): Record<string, string> {
  const times = outcomes.map((o) => o.retryAt).filter((t): t is number => t !== undefined);
  if (times.length === 0) return {};
  return { 'retry-after': String(Math.max(1, Math.ceil((Math.min(...times) - now) / 1000))) };
}

/**
 * The answer when no target gave one: the upstream's own 4xx for a request every upstream would refuse; 429 with
 * Retry-After when every target is rate limiting; 503 when every target is unavailable for now (open breaker, at
 * capacity, rate limiting); 504 when the deadline ran out; else what the last real attempt ran into.
 */
export function noUpstreamAnswered(
  outcomes: readonly TargetOutcome[],
  context: { deadlineHit: boolean; deadlineMs: number; attempts: number; now: number },
): RoutingError {
  const last = outcomes.at(-1);
  if (last?.reason === 'status_4xx') {
    const status = last.status ?? 400;
    return new RoutingError(
      status,
      'invalid_request_error',
      last.upstreamMessage ?? `The upstream refused the request (HTTP ${status}).`,
      { code: 'upstream_rejected' },
    );
  }
  if (context.deadlineHit) {
    return new RoutingError(
      504,
      'upstream_error',
      `No upstream answered within the routing deadline of ${context.deadlineMs} ms (${context.attempts} attempts); try again later or with a smaller request.`,
      { code: 'upstream_timeout' },
    );
  }
  const headers = retryAfterHeader(outcomes, context.now);
  if (outcomes.length > 0 && outcomes.every((o) => o.reason === 'throttled' || o.reason === 'status_429')) {
    return new RoutingError(
      429,
      'rate_limit_error',
      `Every upstream serving this model is rate limiting the gateway; retry${headers['retry-after'] ? ` after ${headers['retry-after']} s` : ' later'}.`,
      { code: 'upstream_rate_limited' },
      headers,
    );
  }
  if (outcomes.every((o) => UNAVAILABLE_NOW.has(o.reason))) {
    return new RoutingError(
      503,
      'service_unavailable',
      'No upstream serving this model can take the request now (circuit breaker open, at capacity or rate limiting); retry shortly.',
      { code: 'upstream_unavailable' },
      { 'retry-after': '1', ...headers },
    );
  }
  const failure = [...outcomes].reverse().find((o) => !UNAVAILABLE_NOW.has(o.reason))!;
  switch (failure.reason) {
    case 'timeout':
      return new RoutingError(
        504,
        'upstream_error',
        'No upstream answered in time; try again later or with a smaller request.',
        { code: 'upstream_timeout' },
      );
    case 'connect':
      return new RoutingError(502, 'upstream_error', 'Could not reach the upstream; try again later.', {
        code: 'upstream_unreachable',
      });
    case 'auth':
      return new RoutingError(
        502,
        'upstream_error',
        `The upstream refused the gateway's credentials (HTTP ${failure.status}); an operator must check its API key.`,
        { code: 'upstream_auth_failed' },
      );
    case 'not_found':
      return new RoutingError(
        502,
        'upstream_error',
        'The upstream does not know this model (HTTP 404); an operator must check the routing file.',
        { code: 'upstream_model_not_found' },
      );
    default:
      return new RoutingError(
        502,
        'upstream_error',
        `The upstream failed (HTTP ${failure.status ?? 'none'}${failure.upstreamMessage ? `: ${failure.upstreamMessage}` : ''}); try again later.`,
        { code: 'upstream_error' },
      );
  }
}

/** The error event that ends a stream the upstream broke off midway (the status was sent long before). */
export function streamBroken(): BadGatewayError {
  return new BadGatewayError(
    'The upstream broke off the answer midway; what came before this event is incomplete. Retry the request.',
    { code: 'upstream_stream_broken' },
  );
}

import path from 'node:path';
import type { Response } from 'express';
import type { Registry } from 'prom-client';
import type { ArtifactModel } from '../../../core/artifact/schema';
import { componentLogger, type Logger } from '../../../core/logger';
import { watchDirectories, type DirectoryWatch } from '../../artifact/watch';
import type { Principal } from '../keys/key-service';
import { sendAttempt, type SendAttempt } from './attempt';
import { ClientGone } from './client-gone';
import { deliver } from './deliver';
import { breakerStates } from './breaker';
import { failover } from './failover';
import { checkModelType } from './model-types';
import type { RoutingOutcome } from './outcome';
import { askForStreamUsage } from '../usage/stream-usage';
import { notConfigured } from './routing-errors';
import { createRoutingMetrics, recordBreakerState, type RoutingMetrics } from './routing-metrics';
import type { LoadedRouting } from './routing-source';
import { createRoutingStore, type RoutingFileView } from './routing-store';
import type { Endpoint, UpstreamView } from './upstream';
import { UpstreamRegistry } from './upstream-registry';

/**
 * Asked before anything is sent upstream, once the caller, the model and its type are known: where per-key limits
 * refuse a request, by throwing an ApiError (the client gets it, with any header set on `res`; no upstream sees the
 * request). It may also add to `request.body`. A request it lets through ends in exactly one outcome.
 */
export type Admission = (request: RouteRequest, res: Response) => void | Promise<void>;

export interface RoutingServiceOptions {
  /** The routing validated at start (loadRouting); undefined when no upstream is configured. */
  initial: LoadedRouting | undefined;
  /** ROUTING_FILE, watched and re-read; undefined for the UPSTREAM_URL shorthand. */
  file: string | undefined;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  registry: Registry;
  admit?: Admission;
  /** Every admitted request's outcome, once its answer is complete (or failed, or the client left). */
  onOutcome?: (outcome: RoutingOutcome) => void;
  /**
   * Tokens are counted (the usage ledger): chat streams ask the upstream for usage, and chat answers are kept up
   * to `keepBytes` so that an upstream reporting none can be counted with a tokenizer.
   */
  usage?: { keepBytes: number };
  now?: () => number;
  random?: () => number;
  send?: SendAttempt;
  /** Safety-net poll of the routing file (the directory watch catches changes at once). */
  pollIntervalMs?: number;
}

export interface RouteRequest {
  /** The API key and user the request came with. */
  caller: Principal;
  endpoint: Endpoint;
  model: ArtifactModel;
  body: Record<string, unknown>;
  stream: boolean;
  requestId: string;
}

export interface RoutingView {
  file: RoutingFileView;
  upstreams: UpstreamView[];
}

export interface RoutingService {
  /** Throws before anything is sent when there is no routing at all. */
  ensureConfigured(): void;
  /** Throws a 400 when the model's type does not fit the endpoint. */
  checkType(model: ArtifactModel, endpoint: Endpoint): void;
  /**
   * Admits (options.admit), routes the request and passes the answer to `res`. Throws an ApiError (its headers already set on `res`) when
   * no upstream answered; resolves with the outcome once the answer is complete or the client left.
   */
  forward(request: RouteRequest, res: Response): Promise<RoutingOutcome>;
  start(): void;
  close(): void;
  view(): RoutingView;
}

export function createRoutingService(options: RoutingServiceOptions): RoutingService {
  const logger = componentLogger(options.logger, 'routing');
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const send = options.send ?? sendAttempt;
  const metrics: RoutingMetrics = createRoutingMetrics(options.registry);
  const registry = new UpstreamRegistry(now, {
    breakerChanged(upstream, state) {
      recordBreakerState(metrics, upstream, state);
      metrics.breakerTransitions.inc({ upstream, state });
      if (state !== 'closed') logger.warn({ upstream, state }, 'circuit breaker changed');
      else logger.info({ upstream, state }, 'circuit breaker changed');
    },
    inFlightChanged(upstream, inFlight) {
      metrics.inFlight.set({ upstream }, inFlight);
    },
    retired(upstream) {
      for (const state of breakerStates) metrics.breakerState.remove({ upstream, state });
      metrics.inFlight.remove({ upstream });
    },
  });
  const store = createRoutingStore({
    initial: options.initial,
    file: options.file,
    env: options.env,
    upstreams: registry,
    metrics,
    logger,
    now,
  });
  let watch: DirectoryWatch | undefined;

  const emit = (outcome: RoutingOutcome): RoutingOutcome => {
    try {
      options.onOutcome?.(outcome);
    } catch (error) {
      logger.error({ err: error, requestId: outcome.requestId }, 'an outcome listener failed');
    }
    return outcome;
  };

  async function forward(request: RouteRequest, res: Response): Promise<RoutingOutcome> {
    if (options.admit) await options.admit(request, res);
    const snapshot = store.current();
    if (!snapshot) throw notConfigured();
    const clientGone = new ClientGone();
    const onClose = () => {
      if (!res.writableFinished) clientGone.abort();
    };
    res.once('close', onClose);
    // A client that left while it was authenticated or admitted: nothing is sent upstream for it.
    if (res.destroyed) clientGone.abort();
    const counting = options.usage !== undefined && request.endpoint === 'chat';
    const dropUsageEvent = counting && request.stream && !askForStreamUsage(request.body).clientAsked;
    const startedAt = now();
    const result = await failover(
      snapshot,
      {
        endpoint: request.endpoint,
        model: request.model,
        body: request.body,
        stream: request.stream,
        requestId: request.requestId,
        signal: clientGone,
      },
      { send, metrics, logger, now, random },
    );
    res.off('close', onClose);
    if (!result.ok) {
      const { error } = result;
      const failed = outcomeOf(request, {
        upstream: null,
        upstreamModel: null,
        status: error === 'client_gone' ? 499 : error.status,
        result: error === 'client_gone' ? 'aborted' : 'failed',
        reason: error === 'client_gone' ? 'client_gone' : error.code,
        usage: null,
        answer: null,
        attempts: result.attempts,
        failovers: result.failovers,
        timeToFirstByteMs: null,
        timeToFirstTokenMs: null,
        durationMs: now() - startedAt,
      });
      emit(failed);
      if (error === 'client_gone') return failed;
      throw error;
    }
    const committed = result;
    const delivery = await deliver(
      committed,
      request.model.id,
      res,
      { logger, now },
      { dropUsageEvent, keepBytes: counting ? options.usage!.keepBytes : 0 },
    );
    const upstream = committed.upstream.name;
    const model = request.model.id;
    const status = committed.response.statusCode ?? 200;
    metrics.duration.observe(
      { upstream, model, status_code: String(status) },
      (delivery.endedAt - committed.sentAt) / 1000,
    );
    if (delivery.firstTokenAt !== null)
      metrics.timeToFirstToken.observe({ upstream, model }, (delivery.firstTokenAt - startedAt) / 1000);
    if (delivery.result === 'broken') {
      metrics.errors.inc({ upstream, model, reason: 'broken' });
      committed.upstream.breaker.settle({ trial: false }, 'failure');
    } else if (delivery.result === 'aborted') metrics.errors.inc({ upstream, model, reason: 'aborted' });
    return emit(
      outcomeOf(request, {
        upstream,
        upstreamModel: committed.sentModel,
        status: delivery.result === 'aborted' ? 499 : status,
        result: delivery.result,
        reason:
          delivery.result === 'ok'
            ? null
            : delivery.result === 'broken'
              ? 'upstream_stream_broken'
              : 'client_gone',
        usage: delivery.usage,
        answer: delivery.answer,
        attempts: committed.attempts,
        failovers: committed.failovers,
        timeToFirstByteMs: committed.headersAt - startedAt,
        timeToFirstTokenMs: delivery.firstTokenAt === null ? null : delivery.firstTokenAt - startedAt,
        durationMs: delivery.endedAt - startedAt,
      }),
    );
  }

  return {
    ensureConfigured() {
      if (!store.current()) throw notConfigured();
    },
    checkType(model, endpoint) {
      checkModelType(model, endpoint, store.current()?.settings.unknownModels ?? 'both');
    },
    forward,
    start() {
      if (!options.file || watch) return;
      watch = watchDirectories({
        directories: [path.dirname(options.file)],
        onChange: () => void store.reload(),
        logger,
        pollIntervalMs: options.pollIntervalMs,
      });
    },
    close() {
      watch?.close();
      watch = undefined;
      registry.close();
    },
    view: () => ({ file: store.view(), upstreams: registry.all().map((u) => u.view()) }),
  };
}

/** What the outcome says of the request itself, beside what became of it. */
type OutcomeOfRequest = 'caller' | 'requestId' | 'endpoint' | 'model' | 'stream' | 'body';

/**
 * An outcome, written out field by field: an object spread (`{ ...base, ... }`) took the slow, generic copy on
 * every request.
 */
function outcomeOf(request: RouteRequest, what: Omit<RoutingOutcome, OutcomeOfRequest>): RoutingOutcome {
  return {
    caller: request.caller,
    requestId: request.requestId,
    endpoint: request.endpoint,
    model: request.model.id,
    stream: request.stream,
    upstream: what.upstream,
    upstreamModel: what.upstreamModel,
    status: what.status,
    result: what.result,
    reason: what.reason,
    usage: what.usage,
    body: request.body,
    answer: what.answer,
    attempts: what.attempts,
    failovers: what.failovers,
    timeToFirstByteMs: what.timeToFirstByteMs,
    timeToFirstTokenMs: what.timeToFirstTokenMs,
    durationMs: what.durationMs,
  };
}

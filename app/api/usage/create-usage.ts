import type { Knex } from 'knex';
import type { Registry } from 'prom-client';
import type { AppConfig } from '../../../core/config';
import { componentLogger, type Logger } from '../../../core/logger';
import type { DatabaseHealth } from '../../database-health';
import { createMetrics } from '../../metrics';
import type { RoutingOutcome } from '../routing/outcome';
import type { CompletionListener } from './completion-record';
import { CompletionRecorder } from './completion-recorder';
import { WorkerTokenCounter, type TokenCounter } from './token-counter';
import { UsageLedger } from './usage-ledger';
import { createUsageMetrics } from './usage-metrics';
import { UsageService } from './usage-service';
import { KnexUsageStore } from './usage-store-knex';

/** A chat answer longer than this is not kept for an estimate (it is then estimated from the prompt alone). */
export const KEEP_ANSWER_BYTES = 1024 * 1024;
/** How long the shutdown keeps writing pending records; inside the runtime's release bound (5 s). */
export const LEDGER_STOP_TIMEOUT_MS = 4_000;

export interface UsageDeps {
  config: Readonly<AppConfig>;
  db: Knex;
  logger: Logger;
  registry: Registry;
  health: Pick<DatabaseHealth, 'reachable' | 'on'>;
  /** Told about every finished completion besides the ledger (per-key limits settling what they reserved). */
  listeners?: readonly CompletionListener[];
  counter?: TokenCounter;
}

export interface Usage {
  /** For the routing service: every admitted request's outcome. */
  onOutcome(outcome: RoutingOutcome): void;
  recorder: CompletionRecorder;
  service: UsageService;
  /** Undefined when USAGE_LEDGER=off. */
  ledger: UsageLedger | undefined;
  start(): void;
  /** After the HTTP drain: waits for estimates under way, then writes what is pending (bounded). */
  close(): Promise<void>;
}

/** The usage feature wired: token counting for every finished call, the ledger (unless off), the usage routes' service. */
export function createUsage(deps: UsageDeps): Usage {
  const logger = componentLogger(deps.logger, 'usage');
  const usageMetrics = createUsageMetrics(deps.registry);
  const counter = deps.counter ?? new WorkerTokenCounter();
  const recorder = new CompletionRecorder({ counter, logger, metrics: usageMetrics });
  const store = new KnexUsageStore(deps.db);
  const { usage } = deps.config;
  const ledger = usage.ledger
    ? new UsageLedger({
        store,
        health: deps.health,
        logger,
        metrics: { ...usageMetrics, ...createMetrics(deps.registry) },
        flushIntervalMs: usage.flushIntervalMs,
        batchSize: usage.batchSize,
        maxPending: usage.maxPending,
        stopTimeoutMs: LEDGER_STOP_TIMEOUT_MS,
      })
    : undefined;
  if (ledger) recorder.register(ledger);
  for (const listener of deps.listeners ?? []) recorder.register(listener);

  return {
    onOutcome(outcome) {
      recorder.finished({
        requestId: outcome.requestId,
        keyId: outcome.caller.keyId,
        userId: outcome.caller.userId,
        endpoint: outcome.endpoint,
        model: outcome.model,
        upstream: outcome.upstream,
        upstreamModel: outcome.upstreamModel,
        status: outcome.status,
        served: outcome.upstream !== null,
        usage: outcome.usage,
        body: outcome.body,
        answer: outcome.answer,
        durationMs: outcome.durationMs,
        ttftMs: outcome.timeToFirstTokenMs ?? outcome.timeToFirstByteMs,
      });
    },
    recorder,
    service: new UsageService({ store }),
    ledger,
    start() {
      ledger?.start();
    },
    async close() {
      await recorder.idle();
      await ledger?.stop();
      await counter.close();
    },
  };
}

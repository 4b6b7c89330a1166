import type { Logger } from '../../../core/logger';
import type { DatabaseHealth } from '../../database-health';
import type { Metrics } from '../../metrics';
import { WriteBuffer } from '../../write-buffer';
import type { CompletionListener, CompletionRecord } from './completion-record';
import { recordId } from './record-id';
import type { UsageMetrics } from './usage-metrics';
import type { LedgerEntry, UsageStore } from './usage-store';

export interface UsageLedgerOptions {
  store: Pick<UsageStore, 'insert'>;
  health: Pick<DatabaseHealth, 'reachable' | 'on'>;
  logger: Logger;
  metrics?: Pick<UsageMetrics, 'written' | 'flushFailures' | 'flushDuration'> &
    Pick<Metrics, 'bufferPending' | 'bufferDropped'>;
  /** USAGE_FLUSH_INTERVAL: the longest a record waits before its batch is written. */
  flushIntervalMs: number;
  /** USAGE_BATCH_SIZE: rows per INSERT; a full batch is written at once, without waiting for the interval. */
  batchSize: number;
  /** USAGE_BUFFER_MAX: records held while they cannot be written (an outage); further ones are dropped, counted. */
  maxPending: number;
  /** How long `stop` keeps writing what is pending at shutdown. */
  stopTimeoutMs: number;
  now?: () => number;
}

/**
 * The usage ledger as a CompletionListener: every record is queued in memory (a Map insert, nothing more on the
 * request's path) and written in batches by one INSERT each, every `flushIntervalMs` or as soon as a batch is full.
 * Records made before the database first answers, or during an outage, are held (up to `maxPending`) and written
 * when it does; each one beyond the bound is dropped and counted. A row id is given at the queue, so a batch that
 * is written again after an unanswered commit adds nothing twice. `stop` writes what is left (the SIGTERM drain).
 */
export class UsageLedger implements CompletionListener {
  private readonly buffer: WriteBuffer<LedgerEntry>;
  private readonly now: () => number;
  private early = false;
  /** Records still pending when `stop` ended: lost with the process, so dropped too. */
  private lostAtStop = 0;

  constructor(private readonly options: UsageLedgerOptions) {
    this.now = options.now ?? Date.now;
    const { metrics } = options;
    this.buffer = new WriteBuffer<LedgerEntry>({
      name: 'usage',
      write: async (batch) => {
        const startedAt = this.now();
        try {
          await options.store.insert(batch);
          metrics?.written.inc(batch.length);
        } catch (error) {
          metrics?.flushFailures.inc();
          throw error;
        } finally {
          metrics?.flushDuration.observe((this.now() - startedAt) / 1000);
        }
      },
      health: options.health,
      logger: options.logger,
      metrics,
      maxItems: options.maxPending,
      batchSize: options.batchSize,
      flushIntervalMs: options.flushIntervalMs,
    });
  }

  onCompletion(record: CompletionRecord): void {
    if (!this.buffer.add(ledgerEntry(record, recordId(record.at.getTime())))) return;
    if (this.buffer.size >= this.options.batchSize && !this.early) {
      // A full batch need not wait for the timer; one early flush at a time, queued behind any under way.
      this.early = true;
      void this.buffer.flush().finally(() => (this.early = false));
    }
  }

  get pendingCount(): number {
    return this.buffer.size;
  }

  /** Records dropped: beyond USAGE_BUFFER_MAX during an outage, and those still pending when `stop` ended. */
  get droppedCount(): number {
    return this.buffer.droppedCount + this.lostAtStop;
  }

  start(): void {
    this.buffer.start();
  }

  flush(): Promise<void> {
    return this.buffer.flush();
  }

  /**
   * Stops the timer and writes everything pending, for at most `stopTimeoutMs` (records the last responses make
   * meanwhile are written too). Records still pending then (the database is down or too slow) are lost with the
   * process: logged by count and counted as dropped (droppedCount, modelgate_buffer_dropped_total{buffer="usage"}).
   */
  async stop(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.options.stopTimeoutMs);
    });
    const drain = async (): Promise<'done'> => {
      while (this.buffer.size > 0 && this.options.health.reachable()) {
        const before = this.buffer.size;
        await this.buffer.flush();
        if (this.buffer.size >= before) break;
      }
      // Writes what is left once more and says how many records could not be written (the database is down).
      await this.buffer.stop();
      return 'done';
    };
    try {
      if ((await Promise.race([drain(), late])) === 'late')
        this.options.logger.error(
          { pending: this.buffer.size, stopTimeoutMs: this.options.stopTimeoutMs },
          'usage records still pending at the end of the shutdown bound are lost',
        );
    } finally {
      clearTimeout(timer);
    }
    const lost = this.buffer.size - this.lostAtStop;
    if (lost > 0) {
      this.lostAtStop += lost;
      this.options.metrics?.bufferDropped.inc({ buffer: 'usage' }, lost);
    }
  }
}

/** The record with its id, written out field by field: `{ ...record, id }` took the slow, generic copy every time. */
function ledgerEntry(record: CompletionRecord, id: string): LedgerEntry {
  return {
    id,
    requestId: record.requestId,
    keyId: record.keyId,
    userId: record.userId,
    kind: record.kind,
    model: record.model,
    upstream: record.upstream,
    upstreamModel: record.upstreamModel,
    status: record.status,
    promptTokens: record.promptTokens,
    completionTokens: record.completionTokens,
    estimated: record.estimated,
    durationMs: record.durationMs,
    ttftMs: record.ttftMs,
    at: record.at,
  };
}

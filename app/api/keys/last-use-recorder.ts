import type { Logger } from '../../../core/logger';
import type { DatabaseHealth } from '../../database-health';
import type { Metrics } from '../../metrics';
import { WriteBuffer } from '../../write-buffer';
import type { KeyStore, LastUse } from './key-store';

export interface LastUseRecorderOptions {
  /** A key's last_used_at is written at most once per this interval. */
  resolutionMs: number;
  /** How often pending uses are flushed in the background. */
  flushIntervalMs: number;
  /** Keys whose use is held while the database is unreachable; uses of further keys are dropped (and counted). */
  maxPending: number;
  health: Pick<DatabaseHealth, 'reachable' | 'on'>;
  metrics?: Pick<Metrics, 'bufferPending' | 'bufferDropped'>;
  now?: () => number;
}

const BATCH_SIZE = 1_000;

/**
 * Remembers when keys were used and writes last_used_at in batches, at most once per key per `resolutionMs`,
 * so an authenticated request never waits for (or causes) a write of its own. Through a database outage the uses
 * are kept (one per key, bounded) and written when the database is back.
 */
export class LastUseRecorder {
  /** When each key's use was last accepted into the buffer: suppresses repeats within the resolution. */
  private readonly accepted = new Map<string, number>();
  private lastSweep: number;
  private readonly buffer: WriteBuffer<LastUse>;
  private readonly now: () => number;

  constructor(
    store: Pick<KeyStore, 'recordLastUse'>,
    logger: Logger,
    private readonly options: LastUseRecorderOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.lastSweep = this.now();
    this.buffer = new WriteBuffer<LastUse>({
      name: 'last_use',
      write: (uses) => store.recordLastUse(uses),
      health: options.health,
      logger,
      metrics: options.metrics,
      maxItems: options.maxPending,
      batchSize: BATCH_SIZE,
      flushIntervalMs: options.flushIntervalMs,
      key: (use) => use.id,
    });
  }

  used(keyId: string): void {
    const now = this.now();
    const last = this.accepted.get(keyId);
    if (last !== undefined && now - last < this.options.resolutionMs) return;
    if (this.buffer.add({ id: keyId, at: new Date(now) })) this.accepted.set(keyId, now);
    if (now - this.lastSweep >= this.options.resolutionMs) this.forgetOld(now);
  }

  get pendingCount(): number {
    return this.buffer.size;
  }

  get droppedCount(): number {
    return this.buffer.droppedCount;
  }

  start(): void {
    this.buffer.start();
  }

  flush(): Promise<void> {
    return this.buffer.flush();
  }

  stop(): Promise<void> {
    return this.buffer.stop();
  }

  /** Keeps `accepted` bounded: entries older than the resolution no longer suppress anything. */
  private forgetOld(now: number): void {
    this.lastSweep = now;
    const cutoff = now - this.options.resolutionMs;
    for (const [id, at] of this.accepted) if (at < cutoff) this.accepted.delete(id);
  }
}

import { isDatabaseUnavailable } from '../core/db/errors';
import type { Logger } from '../core/logger';
import type { DatabaseHealth } from './database-health';
import type { Metrics } from './metrics';

export interface WriteBufferOptions<T> {
  /** Names the buffer in logs and in the `buffer` label of modelgate_buffer_pending and _dropped_total. */
  name: string;
  /** Writes one batch; throws when it could not (the batch stays pending). */
  write(batch: readonly T[]): Promise<void>;
  health: Pick<DatabaseHealth, 'reachable' | 'on'>;
  logger: Logger;
  metrics?: Pick<Metrics, 'bufferPending' | 'bufferDropped'>;
  /** The bound on what is held (through an outage); items beyond it are dropped and counted. */
  maxItems: number;
  batchSize: number;
  flushIntervalMs: number;
  /** Items with the same key replace each other (the newer wins); without it every item is kept, in order. */
  key?: (item: T) => string;
}

/**
 * Records that are written to the database off the request path, in batches. While the database is unreachable
 * nothing is attempted and the records are kept, up to `maxItems`; they are written as soon as it is back (the
 * detector's `up`), and once more at shutdown. Nothing is logged per failed attempt during an outage (the detector
 * logs the outage); another failure is logged once until a write succeeds again.
 */
export class WriteBuffer<T> {
  private readonly items = new Map<string | number, T>();
  private sequence = 0;
  private dropped = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private failing = false;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly options: WriteBufferOptions<T>) {
    options.metrics?.bufferPending.set({ buffer: options.name }, 0);
    options.metrics?.bufferDropped.inc({ buffer: options.name }, 0);
  }

  /** False when the buffer is full and the item was dropped. */
  add(item: T): boolean {
    const key = this.options.key ? this.options.key(item) : (this.sequence += 1);
    if (!this.items.has(key) && this.items.size >= this.options.maxItems) {
      this.dropped += 1;
      this.options.metrics?.bufferDropped.inc({ buffer: this.options.name });
      return false;
    }
    this.items.set(key, item);
    this.gauge();
    return true;
  }

  get size(): number {
    return this.items.size;
  }

  get droppedCount(): number {
    return this.dropped;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.options.flushIntervalMs);
    this.timer.unref();
    this.unsubscribe = this.options.health.on('up', () => void this.flush());
  }

  /** Writes everything pending (one flush at a time); skipped while the database is unreachable. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushAll());
    return this.flushing;
  }

  /** Stops the timer and writes what is pending; says once how many records could not be written. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.flush();
    if (this.items.size > 0) {
      this.options.logger.warn(
        { buffer: this.options.name, pending: this.items.size },
        'buffered records could not be written before exiting (the database is unreachable)',
      );
    }
  }

  private async flushAll(): Promise<void> {
    // Bounded by what is pending now, so records added meanwhile cannot keep one flush going forever.
    let rounds = Math.ceil(this.items.size / this.options.batchSize);
    while (rounds > 0 && this.items.size > 0 && this.options.health.reachable()) {
      rounds -= 1;
      if (!(await this.writeBatch())) return;
    }
  }

  private async writeBatch(): Promise<boolean> {
    const batch: [string | number, T][] = [];
    for (const entry of this.items) {
      if (batch.length >= this.options.batchSize) break;
      batch.push(entry);
    }
    try {
      await this.options.write(batch.map(([, item]) => item));
    } catch (error) {
      this.reportFailure(error);
      return false;
    }
    // An item replaced while the batch was written (same key, newer value) stays pending.
    for (const [key, item] of batch) if (this.items.get(key) === item) this.items.delete(key);
    this.gauge();
    if (this.failing) {
      this.options.logger.info({ buffer: this.options.name }, 'buffered records are being written again');
    }
    this.failing = false;
    return true;
  }

  private reportFailure(error: unknown): void {
    const name = this.options.name;
    if (isDatabaseUnavailable(error)) {
      this.options.logger.debug({ err: error, buffer: name }, 'database unavailable; records kept for later');
      return;
    }
    if (!this.failing) {
      this.options.logger.warn(
        { err: error, buffer: name, pending: this.items.size },
        'could not write buffered records; they are kept and retried',
      );
    }
    this.failing = true;
  }

  private gauge(): void {
    this.options.metrics?.bufferPending.set({ buffer: this.options.name }, this.items.size);
  }
}

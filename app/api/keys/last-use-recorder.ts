import type { Logger } from '../../../core/logger';
import type { KeyStore, LastUse } from './key-store';

export interface LastUseRecorderOptions {
  /** A key's last_used_at is written at most once per this interval. */
  resolutionMs: number;
  /** How often pending uses are flushed in the background. */
  flushIntervalMs: number;
  now?: () => number;
}

/**
 * Remembers when keys were used and writes last_used_at in batches, at most once per key per `resolutionMs`,
 * so an authenticated request never waits for (or causes) a write of its own.
 */
export class LastUseRecorder {
  private readonly pending = new Map<string, number>();
  private readonly written = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(
    private readonly store: Pick<KeyStore, 'recordLastUse'>,
    private readonly logger: Logger,
    private readonly options: LastUseRecorderOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  used(keyId: string): void {
    const now = this.now();
    const last = this.written.get(keyId);
    if (last !== undefined && now - last < this.options.resolutionMs) return;
    this.pending.set(keyId, now);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.options.flushIntervalMs);
    this.timer.unref();
  }

  /** Writes what is pending; failures are logged and the uses kept for the next flush. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushOnce());
    return this.flushing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async flushOnce(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch: LastUse[] = [...this.pending].map(([id, at]) => ({ id, at: new Date(at) }));
    this.pending.clear();
    for (const use of batch) this.written.set(use.id, use.at.getTime());
    try {
      await this.store.recordLastUse(batch);
    } catch (error) {
      for (const use of batch) {
        this.written.delete(use.id);
        if (!this.pending.has(use.id)) this.pending.set(use.id, use.at.getTime());
      }
      this.logger.warn({ err: error, keys: batch.length }, 'could not record API key last use; will retry');
    }
    this.forgetOld();
  }

  /** Keeps `written` bounded: entries older than the resolution no longer suppress anything. */
  private forgetOld(): void {
    const cutoff = this.now() - this.options.resolutionMs;
    for (const [id, at] of this.written) if (at < cutoff) this.written.delete(id);
  }
}

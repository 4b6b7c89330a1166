import { EventEmitter } from 'node:events';
import type { DatabaseEvent, DatabaseHealth, DatabaseView } from './database-health';

/** A DatabaseHealth for unit tests: reachable until `down()`, and `up()` again; failures are only recorded. */
export class FakeHealth implements DatabaseHealth {
  readonly reported: unknown[] = [];
  checks = 0;
  private outageSince: number | undefined;
  private readonly events = new EventEmitter();
  private readonly steps: (() => Promise<void>)[] = [];

  down(since = Date.now()): void {
    if (this.outageSince !== undefined) return;
    this.outageSince = since;
    this.events.emit('down');
  }

  /** Runs the `beforeReachable` steps, then reports the database reachable again. */
  async up(): Promise<void> {
    for (const step of this.steps) await step();
    this.outageSince = undefined;
    this.events.emit('up');
  }

  reachable(): boolean {
    return this.outageSince === undefined;
  }

  downSince(): Date | undefined {
    return this.outageSince === undefined ? undefined : new Date(this.outageSince);
  }

  lastOutageStart(): Date | undefined {
    return this.downSince();
  }

  reason(): string | undefined {
    return this.outageSince === undefined ? undefined : 'connection refused';
  }

  reportFailure(error: unknown): void {
    this.reported.push(error);
  }

  async check(): Promise<boolean> {
    this.checks += 1;
    return this.reachable();
  }

  on(event: DatabaseEvent, listener: () => void): () => void {
    this.events.on(event, listener);
    return () => this.events.off(event, listener);
  }

  beforeReachable(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  view(): DatabaseView {
    const since = this.outageSince;
    return {
      state: since === undefined ? 'reachable' : 'unreachable',
      since: since === undefined ? null : new Date(since).toISOString(),
      forSeconds: since === undefined ? null : (Date.now() - since) / 1000,
      reason: this.reason() ?? null,
      outages: 0,
      lastOutage: null,
    };
  }

  refreshMetrics(): void {}

  start(): void {}

  stop(): void {}
}

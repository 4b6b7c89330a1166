import { EventEmitter } from 'node:events';
import type { Knex } from 'knex';
import { unavailableReason } from '../core/db/errors';
import type { Logger } from '../core/logger';
import type { Metrics } from './metrics';

export type DatabaseEvent = 'down' | 'up';

/** What /status shows under `database`; only public facts (a cause such as "connection refused", no address). */
export interface DatabaseView {
  state: 'reachable' | 'unreachable';
  /** When the current outage began (the first failure that led to it). */
  since: string | null;
  forSeconds: number | null;
  reason: string | null;
  outages: number;
  lastOutage: { since: string; until: string; seconds: number; reason: string } | null;
}

/**
 * The one place that decides whether the database is reachable, for every part of the app that must behave
 * differently during an outage (the key cache, the routes that need the database, buffered writes).
 */
export interface DatabaseHealth {
  reachable(): boolean;
  downSince(): Date | undefined;
  /** When the current outage began, or else the last one; undefined before any. */
  lastOutageStart(): Date | undefined;
  /** Why the database is unreachable, without address or credentials; undefined while reachable. */
  reason(): string | undefined;
  /** A query or connection failed: a failure that means unavailability starts a check (a probe) at once. */
  reportFailure(error: unknown): void;
  /** Probes now (or joins the probe under way); resolves with the outcome. */
  check(): Promise<boolean>;
  /** `down` when an outage is detected, `up` once it is over (after the steps below). Returns an unsubscribe. */
  on(event: DatabaseEvent, listener: () => void): () => void;
  /**
   * A step that must succeed after the database answers again and before it counts as reachable (e.g. the key
   * cache catching up on revocations it missed). A failing step keeps the outage going; the next probe retries.
   */
  beforeReachable(step: () => Promise<void>): void;
  view(): DatabaseView;
  /** Brings the duration gauge up to date (before a scrape). */
  refreshMetrics(): void;
  start(): void;
  /** Stops probing; a probe under way is abandoned (its pool is about to close). */
  stop(): void;
}

export interface DatabaseHealthOptions {
  /** One cheap round trip through the pool the requests use (SELECT 1). */
  probe: () => Promise<unknown>;
  logger: Logger;
  metrics?: Pick<Metrics, 'databaseUp' | 'databaseUnreachableSeconds' | 'databaseOutages'>;
  /** Probe period while reachable, so an idle process notices a database that stopped answering. */
  intervalMs?: number;
  /** Probe period during an outage: the delay between the database's return and this process noticing it. */
  retryMs?: number;
  /** A probe not answered within this counts as failed (the query itself is bounded by DB_QUERY_TIMEOUT). */
  probeTimeoutMs?: number;
  now?: () => number;
}

interface Outage {
  since: number;
  reason: string;
}

const TIMED_OUT = Symbol('timed out');

/** Probes the database on a period and whenever a failure is reported; see DatabaseHealth. */
export function createDatabaseHealth(options: DatabaseHealthOptions): DatabaseHealth {
  const { logger, metrics } = options;
  const intervalMs = options.intervalMs ?? 5_000;
  const retryMs = options.retryMs ?? 500;
  const probeTimeoutMs = options.probeTimeoutMs ?? 2_000;
  const now = options.now ?? Date.now;
  const events = new EventEmitter();
  const steps: (() => Promise<void>)[] = [];
  let outage: Outage | undefined;
  let last: DatabaseView['lastOutage'] = null;
  let outages = 0;
  /** When the failure that started the running check happened: an outage dates from it, not from the probe. */
  let suspectSince: number | undefined;
  let probing: Promise<boolean> | undefined;
  /** The probe that follows the one under way: a check asked for during a probe must see a later answer. */
  let queued: Promise<boolean> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let started = false;

  function emit(event: DatabaseEvent): void {
    for (const listener of events.listeners(event) as (() => void)[]) {
      try {
        listener();
      } catch (error) {
        logger.error({ err: error, event }, 'a database health listener failed');
      }
    }
  }

  function markDown(reason: string, since: number): void {
    if (!started) return; // a probe cut short by the pool closing at shutdown is no outage
    if (outage) {
      outage.reason = reason;
      return;
    }
    outage = { since, reason };
    outages += 1;
    metrics?.databaseUp.set(0);
    metrics?.databaseOutages.inc();
    logger.warn(
      { reason, since: new Date(since).toISOString() },
      'database unreachable: known API keys are served from memory, routes that need the database answer 503',
    );
    emit('down');
  }

  function markUp(): void {
    const ended = outage!;
    const until = now();
    const seconds = Math.round((until - ended.since) / 100) / 10;
    last = {
      since: new Date(ended.since).toISOString(),
      until: new Date(until).toISOString(),
      seconds,
      reason: ended.reason,
    };
    outage = undefined;
    metrics?.databaseUp.set(1);
    metrics?.databaseUnreachableSeconds.set(0);
    logger.info({ outageSeconds: seconds, reason: ended.reason }, 'database reachable again');
    emit('up');
  }

  async function attempt(): Promise<boolean> {
    const startedAt = now();
    const round = options.probe().then(
      () => undefined,
      (error: unknown) => error ?? new Error('probe failed'),
    );
    let timeout: NodeJS.Timeout | undefined;
    const limit = new Promise<typeof TIMED_OUT>((resolve) => {
      timeout = setTimeout(() => resolve(TIMED_OUT), probeTimeoutMs);
      timeout.unref();
    });
    let outcome = await Promise.race([round, limit]);
    clearTimeout(timeout);
    if (outcome === TIMED_OUT) {
      markDown(`no answer within ${probeTimeoutMs} ms`, suspectSince ?? startedAt);
      // A probe that hangs is waited for (it is bounded by the query timeout) rather than stacked with new ones.
      outcome = await round;
    }
    if (outcome !== undefined) {
      markDown(
        unavailableReason(outcome) ?? `the check failed: ${(outcome as Error).message ?? String(outcome)}`,
        suspectSince ?? startedAt,
      );
      return false;
    }
    suspectSince = undefined;
    if (!outage) return true;
    try {
      for (const step of steps) await step();
    } catch (error) {
      logger.debug({ err: error }, 'the database answers, but catching up after the outage failed; retrying');
      outage.reason = `catching up after the outage failed: ${unavailableReason(error) ?? 'see the debug log'}`;
      return false;
    }
    if (started) markUp();
    return true;
  }

  function schedule(): void {
    clearTimeout(timer);
    if (!started) return;
    timer = setTimeout(() => void check(), outage ? retryMs : intervalMs);
    timer.unref();
  }

  function run(): Promise<boolean> {
    clearTimeout(timer);
    const current: Promise<boolean> = attempt().finally(() => {
      if (probing === current) probing = undefined;
      schedule();
    });
    probing = current;
    return current;
  }

  function check(): Promise<boolean> {
    if (!probing) return run();
    queued ??= probing.then(() => {
      queued = undefined;
      return started ? run() : outage === undefined;
    });
    return queued;
  }

  return {
    reachable: () => outage === undefined,
    downSince: () => (outage ? new Date(outage.since) : undefined),
    lastOutageStart: () => {
      if (outage) return new Date(outage.since);
      return last ? new Date(last.since) : undefined;
    },
    reason: () => outage?.reason,
    reportFailure(error) {
      if (!started || outage || unavailableReason(error) === undefined) return;
      suspectSince ??= now();
      void check();
    },
    check,
    on(event, listener) {
      events.on(event, listener);
      return () => events.off(event, listener);
    },
    beforeReachable(step) {
      steps.push(step);
    },
    view() {
      const current = outage;
      return {
        state: current ? 'unreachable' : 'reachable',
        since: current ? new Date(current.since).toISOString() : null,
        forSeconds: current ? Math.round((now() - current.since) / 100) / 10 : null,
        reason: current?.reason ?? null,
        outages,
        lastOutage: last,
      };
    },
    refreshMetrics() {
      metrics?.databaseUnreachableSeconds.set(outage ? (now() - outage.since) / 1000 : 0);
    },
    start() {
      if (started) return;
      started = true;
      void check();
    },
    stop() {
      started = false;
      clearTimeout(timer);
    },
  };
}

/**
 * Feeds every failure of the pool's connections and queries to the detector: a failed connection attempt, an
 * acquire that timed out, a query cut off or unanswered.
 */
export function reportPoolFailures(db: Knex, health: Pick<DatabaseHealth, 'reportFailure'>): void {
  const report = (error: unknown) => health.reportFailure(error);
  db.on('query-error', report);
  const pool = (db.client as { pool?: EventEmitter }).pool;
  pool?.on('createFail', (_id: unknown, error: unknown) => report(error));
  pool?.on('acquireFail', (_id: unknown, error: unknown) => report(error));
}

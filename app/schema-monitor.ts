import type { Knex } from 'knex';
import { describeDatabase } from '../core/db/describe';
import { schemaState as readSchemaState, type SchemaState } from '../core/db/migrations';
import type { Logger } from '../core/logger';
import type { Metrics } from './metrics';

export type SchemaView =
  | { state: 'unknown'; reason: string }
  | { state: 'compatible'; required: string; latestApplied: string; ahead: boolean; checkedAt: string }
  | {
      state: 'incompatible';
      required: string;
      latestApplied: string | null;
      reason: string;
      checkedAt: string;
    }
  | { state: 'unreachable'; reason: string; checkedAt: string };

export interface SchemaMonitor {
  start(): void;
  /** Stops retrying; resolves once a check under way has finished (so the pool can be closed after it). */
  stop(): Promise<void>;
  view(): SchemaView;
  compatible(): boolean;
}

/**
 * Checks that the database has the newest migration this code needs, and keeps checking every `retryMs` while it
 * does not (init may still be migrating). It never migrates. Once compatible it stops: schemas only move forward.
 */
export function createSchemaMonitor(options: {
  db: Knex;
  databaseUrl: string;
  logger: Logger;
  metrics: Pick<Metrics, 'schemaCompatible'>;
  retryMs?: number;
  check?: (db: Knex) => Promise<SchemaState>;
  now?: () => Date;
  /** Called after every check, so readiness changes are noticed when they happen, not at the next probe. */
  onCheck?: () => void;
}): SchemaMonitor {
  const { db, logger, metrics } = options;
  const retryMs = options.retryMs ?? 3_000;
  const check = options.check ?? ((knex: Knex) => readSchemaState(knex));
  const now = options.now ?? (() => new Date());
  let view: SchemaView = { state: 'unknown', reason: 'the database schema has not been checked yet' };
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let lastReason: string | undefined;
  let inFlight: Promise<void> | undefined;

  async function run(): Promise<void> {
    timer = undefined;
    const checkedAt = now().toISOString();
    try {
      const state = await check(db);
      view = state.compatible
        ? { state: 'compatible', ...state, checkedAt }
        : { state: 'incompatible', ...state, checkedAt };
    } catch (error) {
      view = {
        state: 'unreachable',
        reason: `cannot read the schema version from ${describeDatabase(options.databaseUrl)}: ${(error as Error).message}`,
        checkedAt,
      };
    }
    metrics.schemaCompatible.set(view.state === 'compatible' ? 1 : 0);
    options.onCheck?.();
    if (view.state === 'compatible') {
      logger.info(
        { required: view.required, latestApplied: view.latestApplied, ahead: view.ahead },
        'database schema is compatible',
      );
      return;
    }
    const reason = view.reason;
    if (reason !== lastReason) logger.warn({ reason, retryMs }, 'database schema not usable yet; not ready');
    lastReason = reason;
    if (!stopped) timer = setTimeout(tick, retryMs);
  }

  function tick(): void {
    inFlight = run().finally(() => {
      inFlight = undefined;
    });
  }

  return {
    start() {
      stopped = false;
      tick();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await inFlight;
    },
    view: () => view,
    compatible: () => view.state === 'compatible',
  };
}

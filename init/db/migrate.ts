import fs from 'node:fs';
import type { Knex } from 'knex';
import { initKnex } from './knex';
import type pg from 'pg';
import type { Logger } from '../../core/logger';
import { MIGRATIONS_LOCK_TABLE, MIGRATIONS_TABLE, migratorConfig } from '../../core/db/migrations';
import type { Clock } from '../backoff';
import { InitError } from '../errors';
import { acquireLock } from './advisory-lock';

export interface AppliedMigration {
  name: string;
  durationMs: number;
}

export interface MigrateResult {
  pendingBefore: number;
  applied: AppliedMigration[];
  /** False on the fast path: nothing was pending, no lock was taken. */
  locked: boolean;
}

export interface MigrateOptions {
  /** The dedicated connection (MIGRATION_DATABASE_URL) that holds the advisory lock. */
  client: pg.Client;
  url: string;
  directory: string;
  lockTimeoutMs: number;
  logger: Logger;
  clock: Clock;
}

/** Migration files in the order knex applies them (lexical, `.js` only, as in migratorConfig). */
export function migrationFiles(directory: string): string[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(directory);
  } catch (error) {
    throw new InitError(
      `cannot read the migrations directory ${directory} (${(error as Error).message}); the image or --migrations-dir is incomplete`,
    );
  }
  return entries.filter((file) => file.endsWith('.js')).sort();
}

async function tableExists(client: pg.Client, table: string): Promise<boolean> {
  const result = await client.query<{ oid: string | null }>('SELECT to_regclass($1) AS oid', [table]);
  return result.rows[0]?.oid != null;
}

/** Pending migrations, read with plain queries: knex's own listing would create its tables outside any lock. */
export async function pendingMigrations(client: pg.Client, directory: string): Promise<string[]> {
  const files = migrationFiles(directory);
  if (!(await tableExists(client, MIGRATIONS_TABLE))) return files;
  const result = await client.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE}`);
  const done = new Set(result.rows.map((row) => row.name));
  return files.filter((file) => !done.has(file));
}

/**
 * Resets knex's own lock table to exactly one unlocked row. Only safe while holding the migrations advisory lock:
 * then no other modelgate-init is migrating, so a set flag was left by a killed run, and duplicated rows (which
 * make knex's lock fail forever) cannot be in use.
 */
export async function clearKnexLock(client: pg.Client, logger: Logger): Promise<void> {
  if (!(await tableExists(client, MIGRATIONS_LOCK_TABLE))) return;
  const { rows } = await client.query<{ is_locked: number }>(
    `SELECT is_locked FROM ${MIGRATIONS_LOCK_TABLE}`,
  );
  if (rows.length === 1 && rows[0]!.is_locked === 0) return;
  await client.query('BEGIN');
  try {
    await client.query(`DELETE FROM ${MIGRATIONS_LOCK_TABLE}`);
    await client.query(`INSERT INTO ${MIGRATIONS_LOCK_TABLE} (is_locked) VALUES (0)`);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  logger.warn(
    { rows: rows.length, locked: rows.filter((row) => row.is_locked !== 0).length },
    'cleared a stale knex migration lock (left by a killed or crashed run)',
  );
}

async function applyPending(options: MigrateOptions): Promise<AppliedMigration[]> {
  const { logger, clock } = options;
  const db = await initKnex(options.url, logger, { poolMax: 2, checkClient: true });
  const applied: AppliedMigration[] = [];
  let started = 0;
  const nameOf = (migrations: unknown[]) =>
    (migrations[0] as { file?: string } | undefined)?.file ?? 'unknown';
  try {
    await db.migrate.latest({
      ...migratorConfig(options.directory),
      beforeEach: async (_trx: Knex, migrations: unknown[]) => {
        started = clock.now();
        logger.info({ migration: nameOf(migrations) }, 'migration started');
      },
      afterEach: async (_trx: Knex, migrations: unknown[]) => {
        const entry = { name: nameOf(migrations), durationMs: clock.now() - started };
        applied.push(entry);
        logger.info({ migration: entry.name, durationMs: entry.durationMs }, 'migration applied');
      },
    } as Knex.MigratorConfig);
  } catch (error) {
    throw new InitError(
      `migration failed: ${(error as Error).message}; the failed migration was rolled back if it ran in a transaction; fix the cause and run modelgate-init migrate again`,
      undefined,
      { cause: error },
    );
  } finally {
    await db.destroy();
  }
  return applied;
}

/**
 * Applies pending migrations exactly once across any number of concurrent processes. Fast path: nothing pending,
 * no lock. Otherwise a session advisory lock on the dedicated connection, bounded by lockTimeoutMs.
 */
export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const { client, logger } = options;
  const pendingBefore = await pendingMigrations(client, options.directory);
  if (pendingBefore.length === 0) {
    logger.info('schema is current, no migration pending');
    return { pendingBefore: 0, applied: [], locked: false };
  }
  logger.info({ pending: pendingBefore }, 'migrations pending, taking the migrations lock');
  const lock = await acquireLock({
    client,
    lock: 'migrations',
    timeoutMs: options.lockTimeoutMs,
    timeoutVariable: 'MIGRATION_LOCK_TIMEOUT',
    logger,
    clock: options.clock,
  });
  try {
    const stillPending = await pendingMigrations(client, options.directory);
    if (stillPending.length === 0) {
      logger.info('another modelgate-init applied the pending migrations');
      return { pendingBefore: pendingBefore.length, applied: [], locked: true };
    }
    await clearKnexLock(client, logger);
    const applied = await applyPending(options);
    return { pendingBefore: pendingBefore.length, applied, locked: true };
  } finally {
    await lock
      .release()
      .catch((error) => logger.warn({ err: error }, 'could not release the migrations lock'));
  }
}

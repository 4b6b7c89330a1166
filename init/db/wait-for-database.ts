import pg from 'pg';
import type { Logger } from '../../core/logger';
import { describeDatabase } from '../../core/db/describe';
import { backoffDelay, type Clock } from '../backoff';
import { InitError } from '../errors';

export interface WaitForDatabaseOptions {
  url: string;
  timeoutMs: number;
  logger: Logger;
  clock: Clock;
  applicationName?: string;
}

/** Errors that retrying cannot fix: wrong password or role, or a misconfigured client. */
const PERMANENT_CODES = new Set(['28P01', '28000']);

function reasonOf(error: unknown): string {
  const e = error as { code?: string; message?: string };
  return [e.code, e.message].filter(Boolean).join(': ') || String(error);
}

/**
 * Opens one dedicated connection (not a pool) once the database accepts it, retrying with jittered exponential
 * backoff until timeoutMs. Each failed attempt is logged with the host and the reason, never the password.
 */
export async function waitForDatabase(options: WaitForDatabaseOptions): Promise<pg.Client> {
  const { url, timeoutMs, logger, clock } = options;
  const where = describeDatabase(url);
  const deadline = clock.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    const remaining = deadline - clock.now();
    const client = new pg.Client({
      connectionString: url,
      application_name: options.applicationName ?? 'modelgate-init',
      connectionTimeoutMillis: Math.max(500, Math.min(5_000, remaining)),
    });
    // A dropped connection must not crash the process; the next query reports it.
    client.on('error', (error) => logger.warn({ err: error, database: where }, 'database connection lost'));
    try {
      await client.connect();
      await client.query('SELECT 1');
      if (attempt > 0) logger.info({ database: where, attempts: attempt + 1 }, 'database is reachable');
      return client;
    } catch (error) {
      await client.end().catch(() => undefined);
      const reason = reasonOf(error);
      const code = (error as { code?: string }).code;
      if (code && PERMANENT_CODES.has(code)) {
        throw new InitError(
          `the database at ${where} refused the credentials (${reason}); check the user and password in MIGRATION_DATABASE_URL or DATABASE_URL`,
        );
      }
      const delay = backoffDelay(attempt, { baseMs: 250, maxMs: 5_000 }, clock.random);
      const left = deadline - clock.now();
      if (left <= 0) {
        throw new InitError(
          `the database at ${where} did not accept connections within DB_WAIT_TIMEOUT (${timeoutMs} ms; last error: ${reason}); check that PostgreSQL is running and reachable, or raise DB_WAIT_TIMEOUT`,
        );
      }
      logger.warn(
        { database: where, attempt: attempt + 1, reason, retryInMs: Math.min(delay, left) },
        'database not reachable yet, retrying',
      );
      await clock.sleep(Math.min(delay, left));
    }
  }
}

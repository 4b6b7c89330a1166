import knex, { type Knex } from 'knex';
import type pg from 'pg';
import type { Logger } from '../logger';

export type { Knex } from 'knex';

export interface ConnectionOptions {
  url: string;
  poolMin?: number;
  poolMax?: number;
  /** Shown in pg_stat_activity, so an operator can tell the app's connections from init's. */
  applicationName?: string;
  /** Bound on acquiring a pooled connection; requests fail fast instead of queueing forever. */
  acquireTimeoutMs?: number;
  /**
   * Where knex's own warnings go. Without it knex writes plain text to stdout, which breaks the JSON log lines
   * (and `modelgate-init status`' JSON output).
   */
  logger?: Logger;
  /**
   * Sets `client_connection_check_interval`: if this process dies mid-query (a killed migration), PostgreSQL
   * notices the closed socket within this interval and rolls back instead of running on (PostgreSQL >= 14;
   * older servers reject the setting, which is ignored).
   */
  clientCheckIntervalMs?: number;
}

function knexLog(logger: Logger): Knex.Config['log'] {
  const log = (level: 'warn' | 'error' | 'debug') => (message: unknown) =>
    logger[level]({ knex: typeof message === 'string' ? message : String(message) }, 'knex');
  return { warn: log('warn'), error: log('error'), debug: log('debug'), deprecate: log('warn') };
}

/** A knex instance over node-postgres. Creating it opens no connection; the pool fills on first use. */
export function createDatabase(options: ConnectionOptions): Knex {
  const interval = options.clientCheckIntervalMs;
  return knex({
    client: 'pg',
    connection: { connectionString: options.url, application_name: options.applicationName ?? 'modelgate' },
    acquireConnectionTimeout: options.acquireTimeoutMs ?? 10_000,
    ...(options.logger ? { log: knexLog(options.logger) } : {}),
    pool: {
      min: options.poolMin ?? 0,
      max: options.poolMax ?? 10,
      ...(interval
        ? {
            afterCreate: (conn: pg.Client, done: (error: Error | null, conn: pg.Client) => void) => {
              conn.query(`SET client_connection_check_interval = ${Math.round(interval)}`, () =>
                done(null, conn),
              );
            },
          }
        : {}),
    },
  });
}

/** `host:port/database` of a connection string, for log lines: never the user or password. */
export function describeDatabase(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
  } catch {
    return 'an unparsable DATABASE_URL';
  }
}

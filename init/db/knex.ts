import knex, { type Knex } from 'knex';
import type pg from 'pg';
import type { Logger } from '../../core/logger';

/**
 * A small knex instance for init's own use. Its log goes through our logger: knex' default writes plain text to
 * stdout, which would break the JSON log lines (and `status`' JSON output).
 */
export function initKnex(
  url: string,
  logger: Logger,
  options: { poolMax?: number; checkClient?: boolean } = {},
): Knex {
  const log = (level: 'warn' | 'error' | 'debug') => (message: unknown) =>
    logger[level]({ knex: typeof message === 'string' ? message : String(message) }, 'knex');
  return knex({
    client: 'pg',
    connection: { connectionString: url, application_name: 'modelgate-init' },
    acquireConnectionTimeout: 10_000,
    log: { warn: log('warn'), error: log('error'), debug: log('debug'), deprecate: log('warn') },
    pool: {
      min: 0,
      max: options.poolMax ?? 1,
      // If this process is killed mid-migration, PostgreSQL notices the closed socket within a second and rolls
      // the migration back instead of running on (PostgreSQL >= 14; older servers reject the setting, ignored).
      ...(options.checkClient
        ? {
            afterCreate: (conn: pg.Client, done: (error: Error | null, conn: pg.Client) => void) => {
              conn.query('SET client_connection_check_interval = 1000', () => done(null, conn));
            },
          }
        : {}),
    },
  });
}

import knex, { type Knex } from 'knex';

export type { Knex } from 'knex';

export interface ConnectionOptions {
  url: string;
  poolMin?: number;
  poolMax?: number;
  /** Shown in pg_stat_activity, so an operator can tell the app's connections from init's. */
  applicationName?: string;
  /** Bound on acquiring a pooled connection; requests fail fast instead of queueing forever. */
  acquireTimeoutMs?: number;
}

/** A knex instance over node-postgres. Creating it opens no connection; the pool fills on first use. */
export function createDatabase(options: ConnectionOptions): Knex {
  return knex({
    client: 'pg',
    connection: { connectionString: options.url, application_name: options.applicationName ?? 'modelgate' },
    pool: { min: options.poolMin ?? 0, max: options.poolMax ?? 10 },
    acquireConnectionTimeout: options.acquireTimeoutMs ?? 10_000,
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

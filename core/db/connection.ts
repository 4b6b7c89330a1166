import knex, { type Knex } from 'knex';
import { Client } from 'pg';
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
   * Bound on opening one connection (TCP, TLS, startup and authentication): a server that accepts the socket and
   * never answers fails the attempt instead of holding a pool slot forever.
   */
  connectTimeoutMs?: number;
  /**
   * Client-side bound on one query (node-postgres `query_timeout`). Unlike `statement_timeout`, which the server
   * enforces, it also ends a query sent to a server that no longer answers. The connection is then closed: it may
   * still receive the late answer and must never be handed out again.
   */
  queryTimeoutMs?: number;
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
  /**
   * Pooled connections opened before this time (ms since the epoch) are discarded instead of handed out. After a
   * database outage, a connection that lived through it may be dead without knowing (a partition drops packets,
   * sends no reset): each would cost a request a whole DB_QUERY_TIMEOUT.
   */
  staleBefore?: () => number | undefined;
}

const OPENED_AT = Symbol('openedAt');

/**
 * knex warns about every failed connection attempt, with the server's address and a stack. The caller gets the same
 * error and decides how to report it (the app's outage detector logs an outage once), so those lines are debug.
 */
const CONNECTION_NOISE = /^(Acquire connection error|Connection Error):/;

function knexLog(logger: Logger): Knex.Config['log'] {
  const log = (level: 'warn' | 'error' | 'debug') => (message: unknown) => {
    const text = typeof message === 'string' ? message : String(message);
    logger[level === 'warn' && CONNECTION_NOISE.test(text) ? 'debug' : level]({ knex: text }, 'knex');
  };
  return { warn: log('warn'), error: log('error'), debug: log('debug'), deprecate: log('warn') };
}

type QueryCallback = (error: Error | null, result?: unknown) => void;

/** After a client-side query timeout the connection's protocol state is unknown: close it (knex then drops it). */
function closeOnQueryTimeout(conn: pg.Client): void {
  const query = conn.query.bind(conn) as (...args: unknown[]) => unknown;
  (conn as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function') {
      args[last] = (error: Error | null, result?: unknown) => {
        if (error && /query read timeout/i.test(error.message)) {
          (conn as unknown as { __knex__disposed?: unknown }).__knex__disposed = error;
          (
            conn as unknown as { connection?: { stream?: { destroy(): void } } }
          ).connection?.stream?.destroy();
        }
        (callback as QueryCallback)(error, result);
      };
    }
    return query(...args);
  };
}

/** A knex instance over node-postgres. Creating it opens no connection; the pool fills on first use. */
export function createDatabase(options: ConnectionOptions): Knex {
  const interval = options.clientCheckIntervalMs;
  const queryTimeout = options.queryTimeoutMs;
  const staleBefore = options.staleBefore;
  const afterCreate = (conn: pg.Client, done: (error: Error | null, conn: pg.Client) => void) => {
    (conn as unknown as { [OPENED_AT]: number })[OPENED_AT] = Date.now();
    if (queryTimeout) closeOnQueryTimeout(conn);
    if (!interval) return done(null, conn);
    conn.query(`SET client_connection_check_interval = ${Math.round(interval)}`, () => done(null, conn));
  };
  return knex({
    client: 'pg',
    connection: {
      connectionString: options.url,
      application_name: options.applicationName ?? 'modelgate',
      ...(options.connectTimeoutMs ? { connectionTimeoutMillis: options.connectTimeoutMs } : {}),
      ...(queryTimeout ? { query_timeout: queryTimeout } : {}),
    },
    acquireConnectionTimeout: options.acquireTimeoutMs ?? 10_000,
    ...(options.logger ? { log: knexLog(options.logger) } : {}),
    pool: {
      min: options.poolMin ?? 0,
      max: options.poolMax ?? 10,
      ...(interval || queryTimeout || staleBefore ? { afterCreate } : {}),
      ...(staleBefore
        ? {
            validate: (conn: pg.Client) => {
              const before = staleBefore();
              const openedAt = (conn as unknown as { [OPENED_AT]?: number })[OPENED_AT] ?? 0;
              return before === undefined || openedAt >= before;
            },
          }
        : {}),
    },
  });
}

export interface ProbeConnection {
  /** One `SELECT 1` on the probe's own connection, (re)connecting first when needed. */
  probe(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A single connection outside the pool for health probes: it tells whether the server answers, whatever the pool
 * is doing (a pool busy with slow queries is not an outage). Kept open between probes, so a probe every few
 * seconds costs one round trip, not a new server process.
 */
export function createProbeConnection(options: {
  url: string;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
  applicationName?: string;
}): ProbeConnection {
  let client: pg.Client | undefined;
  let closed = false;
  const drop = (stale: pg.Client) => {
    if (client === stale) client = undefined;
    stale.removeAllListeners('error');
    stale.on('error', () => undefined);
    stale.end().catch(() => undefined);
  };
  return {
    async probe() {
      if (closed) throw new Error('the probe connection is closed');
      let current = client;
      if (!current) {
        current = new Client({
          connectionString: options.url,
          application_name: options.applicationName ?? 'modelgate-health',
          connectionTimeoutMillis: options.connectTimeoutMs,
          query_timeout: options.queryTimeoutMs,
        });
        const fresh = current;
        fresh.on('error', () => drop(fresh));
        fresh.on('end', () => drop(fresh));
        client = fresh;
        try {
          await fresh.connect();
        } catch (error) {
          drop(fresh);
          throw error;
        }
      }
      try {
        await current.query('SELECT 1');
      } catch (error) {
        drop(current);
        throw error;
      }
    },
    async close() {
      closed = true;
      const current = client;
      client = undefined;
      if (current) await current.end().catch(() => undefined);
    },
  };
}

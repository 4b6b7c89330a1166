import { randomBytes } from 'node:crypto';
import knex from 'knex';
import { createDatabase, type Knex } from '../../core/db/connection';
import { migratorConfig } from '../../core/db/migrations';

export interface TestDatabase {
  /** Connection string of this test file's own database. */
  url: string;
  name: string;
  /** A small pool on it; closed by drop(). */
  db: Knex;
  migrateLatest(): Promise<void>;
  drop(): Promise<void>;
}

export function adminUrl(): string {
  const url = process.env.MODELGATE_TEST_ADMIN_URL;
  if (!url)
    throw new Error('MODELGATE_TEST_ADMIN_URL is unset: run integration tests through jest (global setup)');
  return url;
}

/** Creates a fresh, empty database for one test file on the run's PostgreSQL. */
export async function createTestDatabase(label = 'test'): Promise<TestDatabase> {
  const name = `mg_${label
    .replace(/[^a-z0-9]/gi, '_')
    .toLowerCase()
    .slice(0, 30)}_${randomBytes(4).toString('hex')}`;
  const admin = knex({ client: 'pg', connection: adminUrl(), pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.destroy();
  }
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  const db = createDatabase({ url: url.toString(), poolMax: 5, applicationName: 'modelgate-test' });
  return {
    url: url.toString(),
    name,
    db,
    migrateLatest: async () => {
      await db.migrate.latest(migratorConfig());
    },
    drop: async () => {
      await db.destroy();
      const cleanup = knex({ client: 'pg', connection: adminUrl(), pool: { min: 0, max: 1 } });
      try {
        await cleanup.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await cleanup.destroy();
      }
    },
  };
}

import path from 'node:path';
import type { Knex } from 'knex';
import { packageRoot } from '../package-root';
import { REQUIRED_MIGRATION } from './schema-version';

export { REQUIRED_MIGRATION } from './schema-version';

/** Migrations are plain JavaScript loaded from source, never compiled into dist/. */
export function migrationsDirectory(): string {
  return path.join(packageRoot(), 'core', 'db', 'migrations');
}

export const MIGRATIONS_TABLE = 'knex_migrations';
export const MIGRATIONS_LOCK_TABLE = 'knex_migrations_lock';

export function migratorConfig(directory = migrationsDirectory()): Knex.MigratorConfig {
  return { directory, loadExtensions: ['.js'], tableName: MIGRATIONS_TABLE };
}

export type SchemaState =
  | { compatible: true; required: string; latestApplied: string; ahead: boolean }
  | { compatible: false; required: string; latestApplied: string | null; reason: string };

/**
 * Compares the database with the newest migration this code needs, without reading the migrations folder:
 * compatible when that migration is recorded (a database ahead of the code is fine).
 */
export async function schemaState(db: Knex, required = REQUIRED_MIGRATION): Promise<SchemaState> {
  const hasTable = await db.schema.hasTable(MIGRATIONS_TABLE);
  if (!hasTable) {
    return {
      compatible: false,
      required,
      latestApplied: null,
      reason: 'the database has no migrations applied',
    };
  }
  const rows: { name: string }[] = await db(MIGRATIONS_TABLE).select('name').orderBy('name', 'desc');
  const latestApplied = rows[0]?.name ?? null;
  if (!rows.some((row) => row.name === required)) {
    return {
      compatible: false,
      required,
      latestApplied,
      reason: `the database lacks migration ${required} (newest applied: ${latestApplied ?? 'none'}); run modelgate-init migrate`,
    };
  }
  return {
    compatible: true,
    required,
    latestApplied: latestApplied as string,
    ahead: latestApplied !== required,
  };
}

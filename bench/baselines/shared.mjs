// @ts-check
// What the two baselines share: the real knex migrations, a plain fetch of the model source, JSON log lines.
// Written for the benchmark only; nothing in app/ or init/ uses it.
import { createRequire } from 'node:module';
import path from 'node:path';
import { distDir } from '../lib/common.mjs';
import knex from 'knex';

const require = createRequire(import.meta.url);
/** The real migrations, through the same migratorConfig modelgate-init uses (from the build in dist/). */
const { migratorConfig } = require(path.join(distDir, 'core', 'db', 'migrations.js'));

/** @param {string} event @param {Record<string, unknown>} [fields] */
export function emit(event, fields = {}) {
  process.stdout.write(`${JSON.stringify({ event, pid: process.pid, t: Date.now(), ...fields })}\n`);
}

/** @param {string} name */
export function requiredEnv(name) {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`${name} is required\n`);
    process.exit(2);
  }
  return value;
}

/**
 * `knex.migrate.latest()` as an app would call it at start-up: no advisory lock, only knex's own lock row, which
 * makes concurrent callers fail with MigrationLocked (or collide creating knex's tables) instead of waiting.
 * @param {string} url @returns {Promise<string[]>} the migrations this call applied
 */
export async function migrateLatest(url) {
  const db = knex({ client: 'pg', connection: url, pool: { min: 0, max: 2 } });
  const started = performance.now();
  try {
    const [, applied] = await db.migrate.latest(migratorConfig());
    emit('migrate', { applied, ms: Math.round(performance.now() - started) });
    return applied;
  } catch (error) {
    emit('migrate-failed', { error: String(/** @type {Error} */ (error).message).slice(0, 300) });
    throw error;
  } finally {
    await db.destroy();
  }
}

/**
 * One GET of the model source, 10 s timeout (modelgate-init's MODEL_SOURCE_TIMEOUT default), no retry.
 * @param {string} url @returns {Promise<{ models: unknown[] }>}
 */
export async function fetchModels(url) {
  const started = performance.now();
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`model source answered ${response.status}`);
    const document = /** @type {{ models: { IsDeleted?: boolean }[] }} */ (await response.json());
    const models = document.models.filter((m) => !m.IsDeleted);
    emit('fetch', { models: models.length, ms: Math.round(performance.now() - started) });
    return { models };
  } catch (error) {
    emit('fetch-failed', { error: String(/** @type {Error} */ (error).message).slice(0, 300) });
    throw error;
  }
}

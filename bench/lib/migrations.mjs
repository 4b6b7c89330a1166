// @ts-check
// The real migrations folder, through the build of core/db/migrations.ts.
import { createRequire } from 'node:module';
import path from 'node:path';
import { distDir } from './common.mjs';

const require = createRequire(import.meta.url);

/** @returns {string} */
export function migrationsDirectory() {
  return require(path.join(distDir, 'core', 'db', 'migrations.js')).migrationsDirectory();
}

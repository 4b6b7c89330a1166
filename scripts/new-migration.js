#!/usr/bin/env node
// @ts-check
// Creates core/db/migrations/<timestamp>_<description>.js and moves REQUIRED_MIGRATION to it.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const description = (process.argv[2] ?? '').trim();
if (!/^[a-z][a-z0-9_]*$/.test(description)) {
  console.error('usage: npm run migration:new -- <snake_case_description>');
  process.exit(2);
}
const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
const name = `${stamp}_${description}.js`;
const root = path.join(__dirname, '..');
fs.writeFileSync(
  path.join(root, 'core/db/migrations', name),
  `// @ts-check

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {};
`,
);
const versionFile = path.join(root, 'core/db/schema-version.ts');
const source = fs
  .readFileSync(versionFile, 'utf8')
  .replace(/REQUIRED_MIGRATION = '[^']*'/, `REQUIRED_MIGRATION = '${name}'`);
fs.writeFileSync(versionFile, source);
console.log(`created core/db/migrations/${name}; REQUIRED_MIGRATION now points at it`);

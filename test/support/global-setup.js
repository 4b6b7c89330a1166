// @ts-check
// Starts one real PostgreSQL for the integration project (or uses TEST_DATABASE_URL) and publishes its admin
// URL to the workers as MODELGATE_TEST_ADMIN_URL. Each test file then creates a database of its own.
'use strict';
const path = require('node:path');
const { startSupervisor } = require('./supervisor.js');

module.exports = async function globalSetup() {
  if (process.env.TEST_DATABASE_URL) {
    process.env.MODELGATE_TEST_ADMIN_URL = process.env.TEST_DATABASE_URL;
    return;
  }
  const { supervisor, info } = await startSupervisor(
    path.join(__dirname, 'pg-supervisor.mjs'),
    [String(process.pid)],
    'the test PostgreSQL supervisor',
  );
  process.env.MODELGATE_TEST_ADMIN_URL = info.url;
  /** @type {any} */ (globalThis).__MODELGATE_PG_SUPERVISOR__ = supervisor;
};

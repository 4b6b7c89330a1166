// @ts-check
// Starts one real PostgreSQL for the integration project (or uses TEST_DATABASE_URL) and publishes its admin
// URL to the workers as MODELGATE_TEST_ADMIN_URL. Each test file then creates a database of its own.
'use strict';
const { spawn } = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');

module.exports = async function globalSetup() {
  if (process.env.TEST_DATABASE_URL) {
    process.env.MODELGATE_TEST_ADMIN_URL = process.env.TEST_DATABASE_URL;
    return;
  }
  const supervisor = spawn(
    process.execPath,
    [path.join(__dirname, 'pg-supervisor.mjs'), String(process.pid)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const line = await new Promise((resolve, reject) => {
    const lines = readline.createInterface({
      input: /** @type {import('stream').Readable} */ (supervisor.stdout),
    });
    lines.once('line', resolve);
    supervisor.once('exit', (code) =>
      reject(new Error(`the test PostgreSQL supervisor exited with ${code}`)),
    );
  });
  const { url } = JSON.parse(/** @type {string} */ (line));
  process.env.MODELGATE_TEST_ADMIN_URL = url;
  /** @type {any} */ (globalThis).__MODELGATE_PG_SUPERVISOR__ = supervisor;
};

// @ts-check
'use strict';
const stopPostgres = require('../../harness/global-teardown.js');

module.exports = async function globalTeardown() {
  /** @type {import('child_process').ChildProcess | undefined} */
  const supervisor = /** @type {any} */ (globalThis).__MODELGATE_K8S_SUPERVISOR__;
  const stopped =
    !supervisor || supervisor.exitCode !== null
      ? Promise.resolve()
      : new Promise((resolve) => {
          supervisor.once('exit', resolve);
          supervisor.kill('SIGTERM');
        });
  // PostgreSQL is shared with the integration project when both run: only stop it when this setup started it.
  const startedPostgres = /** @type {any} */ (globalThis).__MODELGATE_K8S_STARTED_PG__ === true;
  await Promise.all([stopped, startedPostgres ? stopPostgres() : undefined]);
};

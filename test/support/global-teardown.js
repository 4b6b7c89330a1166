// @ts-check
'use strict';

module.exports = async function globalTeardown() {
  /** @type {import('child_process').ChildProcess | undefined} */
  const supervisor = /** @type {any} */ (globalThis).__MODELGATE_PG_SUPERVISOR__;
  if (!supervisor || supervisor.exitCode !== null) return;
  await new Promise((resolve) => {
    supervisor.once('exit', resolve);
    supervisor.kill('SIGTERM');
  });
};

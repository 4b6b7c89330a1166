// @ts-check
'use strict';
/** @param {import('child_process').ChildProcess | undefined} child */
function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

module.exports = async function globalTeardown() {
  const state = /** @type {any} */ (globalThis);
  // PostgreSQL is shared with the integration project when its setup ran first: stop only the one we started.
  await Promise.all([stop(state.__MODELGATE_K8S_SUPERVISOR__), stop(state.__MODELGATE_K8S_PG_SUPERVISOR__)]);
};

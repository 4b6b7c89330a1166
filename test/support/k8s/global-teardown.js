// @ts-check
'use strict';
const { stopSupervisor } = require('../supervisor.js');

module.exports = async function globalTeardown() {
  const state = /** @type {any} */ (globalThis);
  // PostgreSQL is shared with the integration project when its setup ran first: stop only the one we started.
  await Promise.all([
    stopSupervisor(state.__MODELGATE_K8S_SUPERVISOR__),
    stopSupervisor(state.__MODELGATE_K8S_PG_SUPERVISOR__),
  ]);
};

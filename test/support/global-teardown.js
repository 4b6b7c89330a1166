// @ts-check
'use strict';
const { stopSupervisor } = require('./supervisor.js');

module.exports = async function globalTeardown() {
  await stopSupervisor(/** @type {any} */ (globalThis).__MODELGATE_PG_SUPERVISOR__);
};

// @ts-check
// Stops the run's e2e node and checks that it left nothing (node-cleanup.mjs): a failure here fails the run.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { stopSupervisor } = require('../../support/supervisor.js');

module.exports = async function globalTeardown() {
  /** @type {import('child_process').ChildProcess | undefined} */
  const child = /** @type {any} */ (globalThis).__MODELGATE_E2E_SUPERVISOR__;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const info = JSON.parse(process.env.MODELGATE_TEST_E2E ?? '{}');
  const { residue, runFiles, sharedLeft } = await import('./node-cleanup.mjs');
  const stateDir = path.dirname(info.stateFile);
  const files = runFiles(info);
  const code = await stopSupervisor(child);
  // The supervisor exits 1 when its clean-up failed (it printed what was left).
  if (code !== 0)
    throw new Error(`the e2e node supervisor's clean-up failed (exit ${code}); see its output above`);
  const left = residue(info, files);
  if (left.length > 0) throw new Error(`the e2e node left behind:\n${left.join('\n')}`);
  const others = fs.readdirSync(stateDir).filter((f) => f.endsWith('.json'));
  if (others.length === 0) {
    const shared = sharedLeft();
    if (shared.length > 0)
      throw new Error(`the last e2e node left shared paths behind: ${shared.join(', ')}`);
  }
};

// @ts-check
// The supervisors a jest global setup starts (the e2e node, the test kube-apiserver, the test PostgreSQL): each is a
// node script that takes the pid whose death stops it, prints one JSON line once it is ready, and cleans up and
// exits on SIGTERM; the global teardown stops it. Plain JavaScript: global setup and teardown run before jest
// transforms anything.
'use strict';
const { spawn } = require('node:child_process');
const readline = require('node:readline');

/**
 * Starts `script` with `args` and resolves with the supervisor and its ready line. The supervisor is unref'd then:
 * one that a teardown never reaches cannot keep jest alive, and stops on its own once jest is gone.
 * @param {string} script @param {string[]} args
 * @param {string} what the supervisor, for the error when it exits before it is ready
 * @returns {Promise<{ supervisor: import('child_process').ChildProcess, info: Record<string, any> }>}
 */
function startSupervisor(script, args, what) {
  const supervisor = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stdout = /** @type {import('stream').Readable} */ (supervisor.stdout);
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: stdout });
    lines.once('line', (line) => {
      lines.close();
      stdout.destroy();
      supervisor.unref();
      resolve({ supervisor, info: JSON.parse(line) });
    });
    supervisor.once('exit', (code) =>
      reject(new Error(`${what} exited with ${code} before it was ready (its error is printed above)`)),
    );
  });
}

/**
 * Stops a supervisor: SIGTERM, then resolves with its exit code once it has cleaned up and exited.
 *
 * startSupervisor unrefs it, so waiting for it must ref it again: jest's global teardown runs after the last test
 * file, when the test workers are gone and nothing else holds jest's event loop, and a promise alone does not. Node
 * would end jest in the middle of the teardown, with exit code 0 whatever the results, before jest writes
 * --outputFile and sets its exit code, and before the teardown's own checks run
 * (test/integration/jest-teardown.test.ts).
 * @param {import('child_process').ChildProcess | undefined} child
 * @returns {Promise<number | null>} the exit code (null when a signal ended it, or it had exited already)
 */
function stopSupervisor(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve(child?.exitCode ?? null);
  return new Promise((resolve) => {
    child.ref();
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

module.exports = { startSupervisor, stopSupervisor };

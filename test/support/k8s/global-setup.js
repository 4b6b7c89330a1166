// @ts-check
// Global setup of the k8s jest project: a real etcd + kube-apiserver (apiserver-supervisor.mjs) and the real
// PostgreSQL of the integration harness (the init binary's `wait` and `all` need a database).
// Publishes to the test workers:
//   MODELGATE_TEST_KUBECONFIG   admin kubeconfig (static token in system:masters) of the test API server
//   MODELGATE_TEST_K8S          JSON {kubeconfig, server, caFile, dir, issuer, etcdPid, apiserverPid}
//   MODELGATE_TEST_ADMIN_URL    PostgreSQL admin URL (test/support/global-setup.js)
'use strict';
const path = require('node:path');
const startPostgres = require('../global-setup.js');
const { startSupervisor } = require('../supervisor.js');
const { findTool } = require('../tools.js');

/**
 * Starts apiserver-supervisor.mjs for `parentPid` and resolves with its ready line.
 * @param {number} parentPid the process whose death stops the control plane
 */
const startControlPlane = (parentPid) =>
  startSupervisor(
    path.join(__dirname, 'apiserver-supervisor.mjs'),
    [String(parentPid)],
    'the test kube-apiserver supervisor',
  );

/** Starts the test PostgreSQL unless the integration project's global setup already did in this jest process. */
async function ensurePostgres() {
  /** @type {import('child_process').ChildProcess | undefined} */
  const running = /** @type {any} */ (globalThis).__MODELGATE_PG_SUPERVISOR__;
  if (running && running.exitCode === null && process.env.MODELGATE_TEST_ADMIN_URL) return;
  await startPostgres();
  // Keep our own handle: when this project's setup runs first, the integration project's setup starts a second
  // PostgreSQL and overwrites the shared one; each teardown must stop the one it started.
  /** @type {any} */ (globalThis).__MODELGATE_K8S_PG_SUPERVISOR__ = /** @type {any} */ (
    globalThis
  ).__MODELGATE_PG_SUPERVISOR__;
}

async function globalSetup() {
  // Missing tools: nothing to start; the suites skip with a notice (or fail under MODELGATE_REQUIRE_ALL=1),
  // see describeK8s in cluster.ts.
  if (!findTool('etcd') || !findTool('kube-apiserver')) return;
  const [{ supervisor, info }] = await Promise.all([startControlPlane(process.pid), ensurePostgres()]);
  process.env.MODELGATE_TEST_KUBECONFIG = info.kubeconfig;
  process.env.MODELGATE_TEST_K8S = JSON.stringify(info);
  /** @type {any} */ (globalThis).__MODELGATE_K8S_SUPERVISOR__ = supervisor;
}

module.exports = globalSetup;
module.exports.startControlPlane = startControlPlane;

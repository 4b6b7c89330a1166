// @ts-check
// Global setup of the e2e jest project: the node's images (scripts/image/e2e-images.sh: the real Dockerfile's
// image, its upgrade, the pause image) and one e2e node (node-supervisor.mjs) that every scenario shares, each in
// namespaces of its own. Publishes MODELGATE_TEST_E2E (the supervisor's ready line plus the image archives).
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { startSupervisor } = require('../../support/supervisor.js');
const { repoRoot } = require('../../support/tools.js');
const { missingForE2e } = require('./requirements.js');

/** @returns {{ modelgate: string, upgrade: string, pause: string, images: Record<string, string> }} */
function buildImages() {
  const started = Date.now();
  const out = execFileSync('bash', [path.join(repoRoot, 'scripts/image/e2e-images.sh')], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  const images = JSON.parse(out.trim().split('\n').pop() ?? '{}');
  images.seconds = Math.round((Date.now() - started) / 100) / 10;
  return images;
}

/**
 * Starts node-supervisor.mjs for `parentPid` and resolves with its ready line.
 * @param {number} parentPid the process whose death stops the node
 * @param {string[]} args --pause <archive> [--image <archive>]... [--no-postgres]
 */
const startNode = (parentPid, args) =>
  startSupervisor(
    path.join(__dirname, 'node-supervisor.mjs'),
    [String(parentPid), ...args],
    'the e2e node supervisor',
  );

async function globalSetup() {
  // Missing tools or not root: nothing to start; describeE2E skips with a notice or fails (MODELGATE_REQUIRE_ALL=1).
  if (missingForE2e()) return;
  // A node kept running by hand (docs/e2e.md, "A node to keep"): its ready line, with the image archives added.
  if (process.env.MODELGATE_TEST_E2E) return;
  const started = Date.now();
  const images = buildImages();
  const { supervisor, info } = await startNode(process.pid, [
    '--pause',
    images.pause,
    '--image',
    images.modelgate,
    '--image',
    images.upgrade,
  ]);
  info.archives = images;
  info.setupSeconds = Math.round((Date.now() - started) / 100) / 10;
  process.env.MODELGATE_TEST_E2E = JSON.stringify(info);
  /** @type {any} */ (globalThis).__MODELGATE_E2E_SUPERVISOR__ = supervisor;
}

module.exports = globalSetup;
module.exports.startNode = startNode;

// @ts-check
// Locates the repo tools built by scripts/tools/provision-*.sh in <repo>/.tools/bin (TOOLS_DIR overrides). Plain
// JavaScript: the global setup and the supervisor need it before jest transforms anything. The skip rule (loud
// notice and skip; with MODELGATE_REQUIRE_ALL=1 fail) is applied by describeK8s in cluster.ts.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const repoRoot = path.resolve(__dirname, '..', '..', '..');

function toolsDir() {
  return process.env.TOOLS_DIR ? path.resolve(process.env.TOOLS_DIR) : path.join(repoRoot, '.tools');
}

/** @param {string} name @returns {string} absolute path of .tools/bin/<name>, which may not exist */
function toolPath(name) {
  return path.join(toolsDir(), 'bin', name);
}

/** @param {string} file */
function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function requireAll() {
  return process.env.MODELGATE_REQUIRE_ALL === '1';
}

/**
 * @param {string[]} names tools a suite needs
 * @returns {string[]} the names that are missing from .tools/bin
 */
function missingTools(names) {
  return names.filter((name) => !isExecutable(toolPath(name)));
}

module.exports = { repoRoot, toolsDir, toolPath, missingTools, requireAll };

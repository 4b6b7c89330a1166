// @ts-check
// Locates the repo tools built by scripts/tools/provision-*.sh in <repo>/.tools/bin (TOOLS_DIR overrides) and
// applies the suite skip rule: a missing tool prints a loud notice and the suites that need it are skipped, unless
// MODELGATE_REQUIRE_ALL=1 (CI), where a missing tool is an error.
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

/**
 * The skip decision for a suite. Returns undefined when every tool is there; otherwise prints a loud notice and
 * returns the reason to skip, or throws when MODELGATE_REQUIRE_ALL=1.
 * @param {string} suite what would be skipped, for the notice
 * @param {string[]} names
 * @returns {string | undefined}
 */
function skipReasonForMissingTools(suite, names) {
  const missing = missingTools(names);
  if (missing.length === 0) return undefined;
  const reason =
    `${missing.map((name) => toolPath(name)).join(', ')} missing: run \`bash scripts/tools/provision-all.sh\` ` +
    '(needs Go) to build them';
  if (requireAll()) {
    throw new Error(`${suite}: ${reason} (MODELGATE_REQUIRE_ALL=1 forbids skipping)`);
  }
  const bar = '#'.repeat(100);
  console.error(`\n${bar}\nSKIP ${suite}: ${reason}\n${bar}\n`);
  return reason;
}

module.exports = { repoRoot, toolsDir, toolPath, missingTools, skipReasonForMissingTools, requireAll };

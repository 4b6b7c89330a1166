// @ts-check
// Tools built into the git-ignored `.tools/bin` by `scripts/tools/provision-all.sh` (helm, kustomize, the
// Kubernetes binaries, the e2e node's pause; TOOLS_DIR overrides the folder), and programs from Debian packages found
// on PATH: promtool and chromium (packages `prometheus` and `chromium`), buildah (scripts/ci/system-packages.sh),
// containerd, ctr and runc (scripts/tools/provision-node.sh). A suite that needs one and does not find it is skipped
// with a loud
// notice, except under MODELGATE_REQUIRE_ALL=1 (set by `.ci/run`), where the missing tool fails the run instead.
// Plain JavaScript: the k8s global setup and the API server supervisor need it before jest transforms anything.
'use strict';
/* global describe, it */
const fs = require('node:fs');
const path = require('node:path');

/**
 * @typedef {'helm' | 'kustomize' | 'kube-apiserver' | 'etcd' | 'kube-controller-manager' | 'kube-scheduler'
 *   | 'kubelet' | 'kube-proxy' | 'kubectl' | 'pause' | 'promtool' | 'containerd' | 'ctr' | 'runc' | 'buildah'
 *   | 'chromium'} ToolName
 */
/**
 * @typedef {{ kind: 'run', paths: Record<ToolName, string> } | { kind: 'skip', message: string }
 *   | { kind: 'fail', message: string }} ToolDecision
 */

/** @type {ReadonlyMap<ToolName, string>} tools that come from system packages rather than .tools/bin, with the script that installs them */
const SYSTEM_TOOLS = new Map(
  /** @type {[ToolName, string][]} */ ([
    ['promtool', 'scripts/ci/system-packages.sh'],
    ['chromium', 'scripts/ci/system-packages.sh'],
    ['buildah', 'scripts/ci/system-packages.sh'],
    ['containerd', 'scripts/tools/provision-node.sh'],
    ['ctr', 'scripts/tools/provision-node.sh'],
    ['runc', 'scripts/tools/provision-node.sh'],
  ]),
);

const repoRoot = path.resolve(__dirname, '..', '..');

/** @param {NodeJS.ProcessEnv} [env] */
function toolsBinDir(env = process.env) {
  return env.TOOLS_DIR ? path.join(path.resolve(env.TOOLS_DIR), 'bin') : path.join(repoRoot, '.tools', 'bin');
}

/** @param {ToolName} name @param {NodeJS.ProcessEnv} [env] @returns {string} `.tools/bin/<name>`, which may not exist */
function toolPath(name, env = process.env) {
  return path.join(toolsBinDir(env), name);
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

/**
 * @param {ToolName} name @param {NodeJS.ProcessEnv} [env]
 * @returns {string | undefined} the tool's absolute path, or undefined when it is not provisioned (or not executable)
 */
function findTool(name, env = process.env) {
  const dirs = [toolsBinDir(env)];
  if (SYSTEM_TOOLS.has(name)) dirs.push(...(env.PATH ?? '').split(path.delimiter).filter(Boolean));
  return dirs.map((dir) => path.join(dir, name)).find(isExecutable);
}

/** @param {NodeJS.ProcessEnv} [env] */
function requireAll(env = process.env) {
  return env.MODELGATE_REQUIRE_ALL === '1';
}

/** @param {readonly ToolName[]} missing @param {NodeJS.ProcessEnv} [env] */
function missingToolMessage(missing, env = process.env) {
  const built = missing.filter((t) => !SYSTEM_TOOLS.has(t));
  /** @type {string[]} */
  const parts = [];
  if (built.length > 0)
    parts.push(
      `${built.join(', ')} not found in ${toolsBinDir(env)}. ` +
        'Run `bash scripts/tools/provision-all.sh` (needs Go; builds them from the Go module proxy).',
    );
  for (const script of new Set(missing.map((t) => SYSTEM_TOOLS.get(t)).filter((s) => s !== undefined))) {
    const names = missing.filter((t) => SYSTEM_TOOLS.get(t) === script);
    parts.push(`${names.join(', ')} not found on PATH. Run \`bash ${script}\` (as root).`);
  }
  return parts.join(' ');
}

/**
 * What a suite needing `tools` does here: run, skip (with a notice) or fail (MODELGATE_REQUIRE_ALL=1).
 * @param {readonly ToolName[]} tools @param {NodeJS.ProcessEnv} [env]
 * @param {string} [unmet] why the suite cannot run here besides its tools (the e2e suite: not root, programs
 *   missing on PATH), which counts as a missing tool
 * @returns {ToolDecision}
 */
function decideTools(tools, env = process.env, unmet = undefined) {
  const paths = /** @type {Record<ToolName, string>} */ ({});
  /** @type {ToolName[]} */
  const missing = [];
  for (const tool of tools) {
    const found = findTool(tool, env);
    if (found) paths[tool] = found;
    else missing.push(tool);
  }
  if (missing.length === 0 && !unmet) return { kind: 'run', paths };
  const message = [missing.length > 0 ? missingToolMessage(missing, env) : '', unmet ?? '']
    .filter(Boolean)
    .join(' ');
  return requireAll(env) ? { kind: 'fail', message } : { kind: 'skip', message };
}

const banner = '#'.repeat(100);

/**
 * `describe` for a suite that needs tools from `.tools/bin`. The body receives the tools' paths. Missing tools
 * (or an `unmet` need, see decideTools): a loud notice and a skipped suite, or, with MODELGATE_REQUIRE_ALL=1, one
 * failing test that says what to run.
 * @param {string} title @param {readonly ToolName[]} tools @param {(paths: Record<ToolName, string>) => void} body
 * @param {string} [unmet]
 */
function describeWithTools(title, tools, body, unmet = undefined) {
  const decision = decideTools(tools, process.env, unmet);
  if (decision.kind === 'run') {
    describe(title, () => body(decision.paths));
    return;
  }
  if (decision.kind === 'fail') {
    describe(title, () => {
      it('has its tools (MODELGATE_REQUIRE_ALL=1 forbids skipping)', () => {
        throw new Error(`MODELGATE_REQUIRE_ALL=1: ${decision.message}`);
      });
    });
    return;
  }
  console.warn(`\n${banner}\nSKIP "${title}": ${decision.message}\n${banner}\n`);
  describe.skip(title, () => {
    it('needs its tools', () => undefined);
  });
}

module.exports = {
  repoRoot,
  toolsBinDir,
  toolPath,
  findTool,
  requireAll,
  missingToolMessage,
  decideTools,
  describeWithTools,
};

// @ts-check
// What the e2e suite needs on the machine, in one place for the global setup (plain JavaScript, before jest
// transforms anything) and for describeE2E (node.ts), which applies the repo's skip rule (describeWithTools): a
// loud notice and a skipped suite, or a failure under MODELGATE_REQUIRE_ALL=1.
'use strict';
const { execFileSync } = require('node:child_process');
const { decideTools } = require('../../support/tools.js');

/** @type {import('../../support/tools.js').ToolName[]} built into .tools/bin by scripts/tools/provision-all.sh */
const BUILT = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubelet',
  'kube-proxy',
  'kubectl',
  'helm',
  'kustomize',
  'pause',
];
/** From Debian packages (scripts/tools/provision-node.sh, scripts/ci/system-packages.sh). */
const SYSTEM = [
  'containerd',
  'containerd-shim-runc-v2',
  'ctr',
  'runc',
  'buildah',
  'mmdebstrap',
  'nsenter',
  'unshare',
  'ip',
  'iptables',
];

/** @param {string} program */
function onPath(program) {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** @returns {string | undefined} why the e2e node cannot run here besides the tools of .tools/bin (BUILT) */
function unmetForE2e() {
  const reasons = [];
  if (process.getuid?.() !== 0)
    reasons.push('the e2e suite needs root (network namespaces, cgroups, mounts, containerd).');
  const system = SYSTEM.filter((p) => !onPath(p));
  if (system.length > 0)
    reasons.push(
      `${system.join(', ')} not on PATH: run \`bash scripts/tools/provision-node.sh\` and \`bash scripts/ci/system-packages.sh\` as root.`,
    );
  return reasons.length > 0 ? reasons.join(' ') : undefined;
}

/** @returns {string | undefined} why the e2e suite cannot run here, or undefined when it can */
function missingForE2e() {
  const decision = decideTools(BUILT, process.env, unmetForE2e());
  return decision.kind === 'run' ? undefined : decision.message;
}

module.exports = { BUILT, SYSTEM, unmetForE2e, missingForE2e };

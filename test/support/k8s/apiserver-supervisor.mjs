// @ts-check
// Owns the test control plane of one jest run: a real etcd and a real kube-apiserver (from .tools/bin) on loopback
// free ports, with RBAC authorization, a static admin token (system:masters) and ServiceAccount token issuance
// (TokenRequest). No controller-manager: tests create namespaces and ServiceAccounts themselves.
//
// Usage: node apiserver-supervisor.mjs <parent pid>
// Prints one JSON line on stdout once the API server is ready:
//   {"kubeconfig", "server", "caFile", "dir", "etcdPid", "apiserverPid", "issuer"}
// Stops both servers (and removes its temp dir) on SIGTERM/SIGINT/SIGHUP or when the parent process dies, even by
// SIGKILL, so nothing outlives a test run. A supervisor that was itself SIGKILLed cannot clean up: the next one
// reaps what it left (state files in <tmp>/modelgate-test-k8s/).
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import YAML from 'yaml';
import { freePort } from '../ports.mjs';
import { tempDir } from '../temp.mjs';
import { alive, cmdline, supervisorStates, watchParent } from '../watchdog.mjs';
import tools from '../tools.js';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const READY_TIMEOUT_MS = Number(process.env.MODELGATE_TEST_K8S_READY_TIMEOUT_MS ?? 180_000);
const STOP_GRACE_MS = 10_000;

const parentPid = Number(process.argv[2]);
if (!Number.isInteger(parentPid) || parentPid <= 0) {
  console.error('usage: apiserver-supervisor.mjs <parent pid>');
  process.exit(2);
}
const states = supervisorStates('modelgate-test-k8s', {
  running: (state) =>
    alive(state.supervisorPid) && cmdline(state.supervisorPid).includes('apiserver-supervisor'),
  // A pid counts only while its command line still names that run's dir.
  reap: (state) => {
    for (const pid of /** @type {number[]} */ (state.pids ?? [])) {
      if (cmdline(pid).includes(state.dir)) process.kill(pid, 'SIGKILL');
    }
  },
});

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @param {string | URL} url
 * @param {https.RequestOptions} [options]
 * @returns {Promise<{ status: number, body: string }>}
 */
function get(url, options = {}) {
  const client = String(url).startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.get(url, { ...options, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** @param {string} file @param {number} [lines] */
function tail(file, lines = 30) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const dir = tempDir('test-k8s');
/** @type {{ name: string, child: import('node:child_process').ChildProcess }[]} */
const children = [];

function writeState() {
  const pids = children.map(({ child }) => child.pid).filter((pid) => pid !== undefined);
  states.write({ pids, dir });
}

/** @param {import('../tools.js').ToolName} name @param {string[]} args */
function startChild(name, args) {
  const log = fs.openSync(path.join(dir, `${name}.log`), 'a');
  // No proxy settings: the API server calls loopback webhooks, and must never reach beyond loopback.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/_proxy$/i.test(key)));
  const child = spawn(tools.toolPath(name), args, { stdio: ['ignore', log, log], env });
  fs.closeSync(log);
  children.push({ name, child });
  writeState();
  return child;
}

/** @param {import('node:child_process').ChildProcess} child */
async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

/**
 * Polls `check` until it returns true; fails early when `child` exits (with its log), or at the deadline.
 * @param {string} what @param {import('node:child_process').ChildProcess} child @param {string} log
 * @param {() => Promise<boolean>} check
 */
async function waitFor(what, child, log, check) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `${what} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${tail(log)}`,
      );
    }
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new Error(`${what} not ready after ${READY_TIMEOUT_MS / 1000}s:\n${tail(log)}`);
    }
    await sleep(150);
  }
}

async function startEtcd() {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const etcd = startChild('etcd', [
    '--name=test',
    `--data-dir=${path.join(dir, 'etcd')}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=test=${peerUrl}`,
    '--initial-cluster-state=new',
    '--unsafe-no-fsync',
    '--log-level=warn',
  ]);
  await waitFor('etcd', etcd, path.join(dir, 'etcd.log'), async () => {
    const { body } = await get(`${clientUrl}/health`);
    return body.includes('"health":"true"');
  });
  return clientUrl;
}

/** @param {string} etcdUrl */
async function startApiserver(etcdUrl) {
  const port = await freePort();
  const token = randomBytes(24).toString('hex');
  fs.writeFileSync(path.join(dir, 'tokens.csv'), `${token},admin,admin-uid,"system:masters"\n`, {
    mode: 0o600,
  });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  fs.writeFileSync(path.join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
  });
  fs.writeFileSync(path.join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  const apiserver = startChild('kube-apiserver', [
    `--etcd-servers=${etcdUrl}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${port}`,
    `--cert-dir=${path.join(dir, 'pki')}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    '--allow-privileged=true',
    '--authorization-mode=Node,RBAC',
    `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
    `--service-account-issuer=${ISSUER}`,
    `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
    `--service-account-key-file=${path.join(dir, 'sa.pub')}`,
    `--api-audiences=${ISSUER}`,
    // No controller-manager runs: the ServiceAccount admission plugin would reject pods whose ServiceAccount
    // token controller never ran; the endpoint reconciler would need a routable address.
    '--disable-admission-plugins=ServiceAccount',
    '--endpoint-reconciler-type=none',
  ]);
  const server = `https://127.0.0.1:${port}`;
  const caFile = path.join(dir, 'pki', 'apiserver.crt');
  await waitFor('kube-apiserver', apiserver, path.join(dir, 'kube-apiserver.log'), async () => {
    if (!fs.existsSync(caFile)) return false;
    const ca = fs.readFileSync(caFile);
    const { status } = await get(`${server}/readyz`, { ca, headers: { authorization: `Bearer ${token}` } });
    return status === 200;
  });
  return { server, caFile, token };
}

/** @param {{ server: string, caFile: string, token: string }} api */
function writeKubeconfig({ server, caFile, token }) {
  const file = path.join(dir, 'admin.kubeconfig');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server, 'certificate-authority': caFile } }],
    users: [{ name: 'admin', user: { token } }],
    contexts: [{ name: 'admin@test', context: { cluster: 'test', user: 'admin', namespace: 'default' } }],
    'current-context': 'admin@test',
  };
  fs.writeFileSync(file, YAML.stringify(config), { mode: 0o600 });
  return file;
}

let stopping = false;
/** @param {number} code */
async function stop(code) {
  if (stopping) return;
  stopping = true;
  try {
    // API server first: it would log etcd connection errors while etcd goes away.
    for (const { child } of [...children].reverse()) await stopChild(child);
  } finally {
    process.exit(code);
  }
}

process.on('exit', () => {
  for (const { child } of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  fs.rmSync(dir, { recursive: true, force: true });
  states.remove();
});
process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));
process.on('SIGHUP', () => void stop(0));
watchParent(parentPid, () => void stop(0));

states.reapAbandoned();
try {
  const etcdUrl = await startEtcd();
  const api = await startApiserver(etcdUrl);
  const kubeconfig = writeKubeconfig(api);
  const pids = Object.fromEntries(children.map(({ name, child }) => [name, child.pid]));
  process.stdout.write(
    `${JSON.stringify({
      kubeconfig,
      server: api.server,
      caFile: api.caFile,
      dir,
      issuer: ISSUER,
      etcdPid: pids.etcd,
      apiserverPid: pids['kube-apiserver'],
    })}\n`,
  );
} catch (error) {
  console.error(`[apiserver-supervisor] ${error instanceof Error ? error.message : String(error)}`);
  await stop(1);
}

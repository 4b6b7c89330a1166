// @ts-check
// Owns one e2e node: a whole single-node Kubernetes cluster inside a network namespace of its own, so every
// packet it and its pods send stays in that namespace (docs/e2e.md, "Network"):
//   etcd, kube-apiserver (ServiceAccount admission, Node and RBAC authorization), kube-controller-manager,
//   kube-scheduler, containerd (private config, root, state and socket; runc; the CNI bridge plugin on a bridge
//   made here), kubelet (its own root dir, cgroupfs under the cgroup `mge2e-<id>`), kube-proxy (iptables, inside
//   the namespace), a cluster DNS (dns-server.mjs), PostgreSQL (postgres.mjs) on the namespace's service address,
//   and the relay (relay.mjs) through which the host reaches anything in the namespace.
//
// Usage: node node-supervisor.mjs <parent pid> --pause <oci archive> [--image <oci archive>]... [--no-postgres]
// Prints one JSON line on stdout once the node is Ready and every part answers (see `info` below).
// Stops everything and removes what it made (node-cleanup.mjs) on SIGTERM/SIGINT/SIGHUP, when the parent process
// dies (even by SIGKILL), or when starting fails. A supervisor that was itself SIGKILLed cannot clean up: the next
// one reaps what it left, from the state file it wrote before making anything (<tmp>/modelgate-test-e2e/).
import { execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { text } from 'node:stream/consumers';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import tools from '../../support/tools.js';
import { alive, cmdline } from '../../support/watchdog.mjs';
import {
  addHostGuard,
  cgroupHierarchies,
  readSysctls,
  removeSharedUnlessUsed,
  removeRun,
  writeSysctls,
} from './node-cleanup.mjs';
import { openForward, relayConnect } from './relay-client.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const READY_TIMEOUT_MS = Number(process.env.MODELGATE_TEST_E2E_READY_TIMEOUT_MS ?? 240_000);

// The namespace's addresses. No default route exists in it: anything else is unreachable.
export const NET = {
  podCidr: '198.18.0.0/24',
  /** The bridge's address: the node's InternalIP, where the API server and kubelet listen. */
  nodeIp: '198.18.0.1',
  /** A second address on the bridge for what stands outside the cluster: PostgreSQL, model sources, DNS. */
  serviceHostIp: '198.18.0.2',
  podRangeStart: '198.18.0.10',
  podRangeEnd: '198.18.0.250',
  serviceCidr: '198.19.0.0/24',
  kubernetesServiceIp: '198.19.0.1',
  dnsServiceIp: '198.19.0.10',
  clusterDomain: 'cluster.local',
  bridge: 'mg0',
  /**
   * The bridge's own MAC address, set when it is made. A Linux bridge without one takes the lowest MAC of its ports
   * and changes it as pods come and go, and every pod's ARP entry for the node then points at an address nobody
   * has; a real node's bridge (the CNI bridge plugin's, docker0) keeps one.
   */
  bridgeMac: '02:6d:67:00:00:01',
};
const PORTS = { etcd: 2379, etcdPeer: 2380, apiserver: 6443, postgres: 5432 };
const NODE_NAME = 'e2e-node';
const ISSUER = 'https://kubernetes.default.svc.cluster.local';

// ---- arguments ---------------------------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const parentPid = Number(argv.shift());
/** @type {string[]} */
const images = [];
let pauseArchive = '';
let withPostgres = true;
while (argv.length > 0) {
  const flag = argv.shift();
  if (flag === '--image') images.push(String(argv.shift()));
  else if (flag === '--pause') pauseArchive = String(argv.shift());
  else if (flag === '--no-postgres') withPostgres = false;
  else {
    console.error(`node-supervisor: unknown argument ${flag}`);
    process.exit(2);
  }
}
if (!Number.isInteger(parentPid) || parentPid <= 0 || !pauseArchive) {
  console.error('usage: node-supervisor.mjs <parent pid> --pause <oci archive> [--image <oci archive>]...');
  process.exit(2);
}

const log = (/** @type {string} */ message) => process.stderr.write(`[e2e-node] ${message}\n`);

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- state and reaping ---------------------------------------------------------------------------------------------
export const stateDir = path.join(os.tmpdir(), 'modelgate-test-e2e');
fs.mkdirSync(stateDir, { recursive: true });

/** @param {{ supervisorPid: number }} run */
const isLive = (run) => alive(run.supervisorPid) && cmdline(run.supervisorPid).includes('node-supervisor');

/** Removes what dead supervisors left: their processes, mounts, directories, cgroups, and their sysctl changes. */
async function reapAbandoned() {
  for (const file of fs.readdirSync(stateDir)) {
    if (!file.endsWith('.json')) continue;
    const stateFile = path.join(stateDir, file);
    let state;
    try {
      state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
    } catch {
      continue; // half written by a supervisor starting right now
    }
    if (isLive(state)) continue;
    log(`reaping run ${state.id} of dead supervisor ${state.supervisorPid}`);
    await removeRun(state);
    fs.rmSync(stateFile, { force: true });
  }
}

const id = randomBytes(3).toString('hex');
const dir = path.join(os.tmpdir(), `mge2e-${id}`);
const cgroup = `mge2e-${id}`;
const stateFile = path.join(stateDir, `${id}.json`);
const paths = {
  netns: path.join(dir, 'netns'),
  pki: path.join(dir, 'pki'),
  etcd: path.join(dir, 'etcd'),
  containerd: path.join(dir, 'containerd'),
  containerdSocket: path.join(dir, 'containerd', 'containerd.sock'),
  containerdState: path.join(dir, 'containerd', 'state'),
  cni: path.join(dir, 'cni'),
  kubelet: path.join(dir, 'kubelet'),
  relaySocket: path.join(dir, 'relay.sock'),
  logs: path.join(dir, 'logs'),
};
/** @type {import('./node-cleanup.mjs').RunState} */
const state = {
  supervisorPid: process.pid,
  id,
  dir,
  cgroup,
  containerdAddress: paths.containerdSocket,
  containerdState: paths.containerdState,
};
const writeState = () => fs.writeFileSync(stateFile, JSON.stringify(state));

/** @type {{ name: string, child: import('node:child_process').ChildProcess }[]} */
const children = [];
/** @type {(() => Promise<void>)[]} */
const forwards = [];
/** @type {[string, string] | undefined} the supervisor's own cgroup in the pids hierarchy, to go back to */
let ownPidsCgroup;

// ---- processes ----------------------------------------------------------------------------------------------------
/** @param {string} name */
const logFile = (name) => path.join(paths.logs, `${name}.log`);

/**
 * Starts a process in the namespace (nsenter switches the network namespace only: kubelet, containerd and the
 * shims must share the host's mount namespace). It inherits the supervisor's cgroup.
 * @param {string} name @param {string} command @param {string[]} args
 * @param {{ stdout?: 'pipe' | 'log', env?: NodeJS.ProcessEnv }} [options]
 */
function startInNamespace(name, command, args, options = {}) {
  const out = fs.openSync(logFile(name), 'a');
  // No proxy settings: nothing here may try to leave the machine.
  const env = Object.fromEntries(
    Object.entries(options.env ?? process.env).filter(([key]) => !/_proxy$/i.test(key)),
  );
  const child = spawn('nsenter', [`--net=${paths.netns}`, '--', command, ...args], {
    stdio: ['ignore', options.stdout === 'pipe' ? 'pipe' : out, out],
    env,
  });
  fs.closeSync(out);
  children.push({ name, child });
  return child;
}

/** @param {import('../../support/tools.js').ToolName} name @param {string[]} args */
const startTool = (name, args) => startInNamespace(name, tools.toolPath(name), args);

/** @param {string} name @param {string} script @param {string[]} args resolves once the script prints a line */
async function startScript(name, script, args) {
  const child = startInNamespace(name, process.execPath, [path.join(here, script), ...args], {
    stdout: 'pipe',
  });
  const lines = readline.createInterface({
    input: /** @type {import('node:stream').Readable} */ (child.stdout),
  });
  const first = await new Promise((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) =>
      reject(new Error(`${name} exited (${code}) before it was ready:\n${tail(name)}`)),
    );
    setTimeout(
      () => reject(new Error(`${name} not ready after ${READY_TIMEOUT_MS / 1000}s:\n${tail(name)}`)),
      READY_TIMEOUT_MS,
    ).unref();
  });
  lines.close();
  return { child, first: String(first) };
}

/** @param {string} name @param {number} [lines] */
function tail(name, lines = 40) {
  try {
    return fs.readFileSync(logFile(name), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** @param {string} command @param {string[]} args */
const inNamespace = (command, args) =>
  execFileSync('nsenter', [`--net=${paths.netns}`, '--', command, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });

/**
 * Polls `check` until it returns true; fails early when `child` exits, or at the deadline, with its log.
 * @param {string} what @param {import('node:child_process').ChildProcess | undefined} child
 * @param {() => Promise<boolean>} check
 */
async function waitFor(what, child, check) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null))
      throw new Error(
        `${what} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${tail(what)}`,
      );
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`${what} not ready after ${READY_TIMEOUT_MS / 1000}s:\n${tail(what)}`);
    await sleep(200);
  }
}

/**
 * An HTTP(S) GET to an address inside the namespace, through the relay.
 * @param {string} target `<ip>:<port>` @param {string} urlPath
 * @param {{ tls?: boolean, headers?: Record<string, string> }} [options]
 * @returns {Promise<{ status: number, body: string }>}
 */
function relayGet(target, urlPath, options = {}) {
  return new Promise((resolve, reject) => {
    const [host, port] = target.split(':');
    const req = (options.tls ? https : http).request(
      {
        host,
        port,
        path: urlPath,
        headers: options.headers,
        timeout: 5_000,
        createConnection: () =>
          options.tls
            ? tls.connect({
                socket: relayConnect(paths.relaySocket, target),
                ca: apiCa(),
                servername: 'kubernetes',
              })
            : relayConnect(paths.relaySocket, target),
      },
      (res) => text(res).then((body) => resolve({ status: res.statusCode ?? 0, body }), reject),
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
const apiCa = () => fs.readFileSync(path.join(paths.pki, 'apiserver.crt'));

// ---- the parts -----------------------------------------------------------------------------------------------------
/** Moves this process into `<cgroup>/harness` of the pids hierarchy, so all it starts is found and killed there. */
function enterCgroup() {
  const pidsRoot = cgroupHierarchies().find((root) => path.basename(root) === 'pids');
  if (!pidsRoot)
    throw new Error('no cgroup v1 pids hierarchy is mounted (/sys/fs/cgroup/pids): the e2e node needs one');
  for (const root of cgroupHierarchies()) {
    const dirPath = path.join(root, cgroup);
    fs.mkdirSync(dirPath, { recursive: true });
    // cpuset cgroups start with no CPUs and no memory nodes: copy the parent's, or nothing can run there.
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      if (fs.existsSync(path.join(root, file)))
        fs.writeFileSync(path.join(dirPath, file), fs.readFileSync(path.join(root, file)));
    }
  }
  const own = fs
    .readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((line) => line.split(':')[1] === 'pids');
  ownPidsCgroup = [pidsRoot, own?.split(':')[2] ?? '/'];
  const harness = path.join(pidsRoot, cgroup, 'harness');
  fs.mkdirSync(harness, { recursive: true });
  fs.writeFileSync(path.join(harness, 'cgroup.procs'), String(process.pid));
}

function leaveCgroup() {
  if (!ownPidsCgroup) return;
  try {
    fs.writeFileSync(path.join(ownPidsCgroup[0], ownPidsCgroup[1], 'cgroup.procs'), String(process.pid));
  } catch {
    fs.writeFileSync(path.join(ownPidsCgroup[0], 'cgroup.procs'), String(process.pid));
  }
}

/** The namespace: loopback, the bridge with the node's and the service host's addresses, forwarding on. */
function makeNetwork() {
  fs.writeFileSync(paths.netns, '');
  execFileSync('unshare', [`--net=${paths.netns}`, 'true']);
  inNamespace('ip', ['link', 'set', 'lo', 'up']);
  inNamespace('ip', ['link', 'add', NET.bridge, 'address', NET.bridgeMac, 'type', 'bridge']);
  inNamespace('ip', ['addr', 'add', `${NET.nodeIp}/24`, 'dev', NET.bridge]);
  inNamespace('ip', ['addr', 'add', `${NET.serviceHostIp}/24`, 'dev', NET.bridge]);
  inNamespace('ip', ['link', 'set', NET.bridge, 'up']);
  // Processes of the namespace itself (the load generators) reach ClusterIPs through kube-proxy's rules.
  inNamespace('ip', ['route', 'add', NET.serviceCidr, 'dev', NET.bridge, 'src', NET.serviceHostIp]);
  inNamespace('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
  fs.mkdirSync(path.join(paths.cni, 'net.d'), { recursive: true });
  fs.writeFileSync(
    path.join(paths.cni, 'net.d', '10-e2e.conflist'),
    JSON.stringify(
      {
        cniVersion: '1.0.0',
        name: 'mge2e',
        plugins: [
          {
            type: 'bridge',
            bridge: NET.bridge,
            // The bridge has its addresses already; as a gateway the plugin would turn on forwarding itself.
            isGateway: false,
            ipMasq: false,
            hairpinMode: true,
            ipam: {
              type: 'host-local',
              dataDir: path.join(paths.cni, 'ipam'),
              ranges: [
                [
                  {
                    subnet: NET.podCidr,
                    rangeStart: NET.podRangeStart,
                    rangeEnd: NET.podRangeEnd,
                    gateway: NET.nodeIp,
                  },
                ],
              ],
              // Pods get a route to the Service range and none to anywhere else.
              routes: [{ dst: NET.serviceCidr, gw: NET.nodeIp }],
            },
          },
        ],
      },
      null,
      2,
    ),
  );
}

/** @type {Record<string, string>} */
const tokens = {};

function makeCredentials() {
  fs.mkdirSync(paths.pki, { recursive: true });
  const identities = {
    admin: ['admin', 'system:masters'],
    kubelet: [`system:node:${NODE_NAME}`, 'system:nodes'],
    'kube-controller-manager': ['system:kube-controller-manager', ''],
    'kube-scheduler': ['system:kube-scheduler', ''],
    'kube-proxy': ['system:kube-proxy', ''],
  };
  const lines = Object.entries(identities).map(([who, [user, groups]]) => {
    tokens[who] = randomBytes(24).toString('hex');
    return `${tokens[who]},${user},${who}-uid${groups ? `,"${groups}"` : ''}`;
  });
  fs.writeFileSync(path.join(paths.pki, 'tokens.csv'), `${lines.join('\n')}\n`, { mode: 0o600 });
  fs.writeFileSync(path.join(paths.pki, 'admin.token'), tokens.admin ?? '', { mode: 0o600 });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  fs.writeFileSync(path.join(paths.pki, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
  });
  fs.writeFileSync(path.join(paths.pki, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
}

/**
 * @param {string} who @param {string} server
 * @param {{ tlsServerName?: string }} [options]
 */
function writeKubeconfig(who, server, options = {}) {
  const file = path.join(paths.pki, `${who}.kubeconfig`);
  const cluster = { server, 'certificate-authority': path.join(paths.pki, 'apiserver.crt') };
  if (options.tlsServerName) Object.assign(cluster, { 'tls-server-name': options.tlsServerName });
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'e2e', cluster }],
    users: [{ name: who, user: { token: tokens[who] } }],
    contexts: [{ name: who, context: { cluster: 'e2e', user: who, namespace: 'default' } }],
    'current-context': who,
  };
  fs.writeFileSync(file, YAML.stringify(config), { mode: 0o600 });
  return file;
}

const inClusterServer = `https://${NET.nodeIp}:${PORTS.apiserver}`;

async function startEtcd() {
  const url = `http://127.0.0.1:${PORTS.etcd}`;
  const peer = `http://127.0.0.1:${PORTS.etcdPeer}`;
  const etcd = startTool('etcd', [
    '--name=e2e',
    `--data-dir=${paths.etcd}`,
    `--listen-client-urls=${url}`,
    `--advertise-client-urls=${url}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=e2e=${peer}`,
    '--initial-cluster-state=new',
    '--unsafe-no-fsync',
    '--log-level=warn',
  ]);
  await waitFor('etcd', etcd, async () =>
    (await relayGet(`127.0.0.1:${PORTS.etcd}`, '/health')).body.includes('"health":"true"'),
  );
  return url;
}

/** @param {string} etcdUrl */
async function startApiserver(etcdUrl) {
  const apiserver = startTool('kube-apiserver', [
    `--etcd-servers=${etcdUrl}`,
    '--bind-address=0.0.0.0',
    `--advertise-address=${NET.nodeIp}`,
    `--secure-port=${PORTS.apiserver}`,
    `--cert-dir=${paths.pki}`,
    `--service-cluster-ip-range=${NET.serviceCidr}`,
    '--allow-privileged=false',
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    `--token-auth-file=${path.join(paths.pki, 'tokens.csv')}`,
    `--service-account-issuer=${ISSUER}`,
    `--service-account-signing-key-file=${path.join(paths.pki, 'sa.key')}`,
    `--service-account-key-file=${path.join(paths.pki, 'sa.pub')}`,
    `--api-audiences=${ISSUER}`,
    '--kubelet-preferred-address-types=InternalIP',
    '--profiling=false',
  ]);
  await waitFor('kube-apiserver', apiserver, async () => {
    if (!fs.existsSync(path.join(paths.pki, 'apiserver.crt'))) return false;
    const { status } = await relayGet(`${NET.nodeIp}:${PORTS.apiserver}`, '/readyz', {
      tls: true,
      headers: { authorization: `Bearer ${tokens.admin}` },
    });
    return status === 200;
  });
}

/** @param {string} method @param {string} urlPath @param {unknown} [body] */
function api(method, urlPath, body) {
  return new Promise((resolve, reject) => {
    const target = `${NET.nodeIp}:${PORTS.apiserver}`;
    const req = https.request(
      {
        host: NET.nodeIp,
        method,
        path: urlPath,
        headers: { authorization: `Bearer ${tokens.admin}`, 'content-type': 'application/json' },
        createConnection: () =>
          tls.connect({
            socket: relayConnect(paths.relaySocket, target),
            ca: apiCa(),
            servername: 'kubernetes',
          }),
      },
      (res) =>
        text(res).then(
          (body) => resolve({ status: res.statusCode ?? 0, body: body ? JSON.parse(body) : undefined }),
          reject,
        ),
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function startContainerd() {
  const c = paths.containerd;
  fs.mkdirSync(c, { recursive: true });
  const config = `version = 2
root = "${path.join(c, 'root')}"
state = "${paths.containerdState}"
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "${paths.containerdSocket}"

[ttrpc]
  address = "${path.join(c, 'ttrpc.sock')}"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "${path.join(c, 'opt')}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${SANDBOX_IMAGE}"
  # root here lacks CAP_SYS_RESOURCE: runc must not try to lower oom_score_adj below the runtime's own.
  restrict_oom_score_adj = true
  # The pods' network namespaces under the state dir, not /run/netns.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${path.join(paths.cni, 'net.d')}"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # cgroup v1 with the cgroupfs driver, like kubelet.
        SystemdCgroup = false
        Root = "${path.join(c, 'runc')}"
`;
  fs.writeFileSync(path.join(c, 'config.toml'), config);
  const containerd = startInNamespace('containerd', 'containerd', ['--config', path.join(c, 'config.toml')]);
  await waitFor('containerd', containerd, async () => {
    if (!fs.existsSync(paths.containerdSocket)) return false;
    execFileSync('ctr', ['--address', paths.containerdSocket, 'version'], { stdio: 'ignore' });
    return true;
  });
}

const SANDBOX_IMAGE = 'modelgate.test/pause:e2e';

/** @param {string} archive */
function importImage(archive) {
  execFileSync('ctr', ['--address', paths.containerdSocket, '-n', 'k8s.io', 'images', 'import', archive], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/** @returns {string[]} the image names containerd holds for kubelet */
function imageNames() {
  return execFileSync('ctr', ['--address', paths.containerdSocket, '-n', 'k8s.io', 'images', 'ls', '-q'], {
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean);
}

function startControllers() {
  const cm = writeKubeconfig('kube-controller-manager', inClusterServer);
  const controllerManager = startTool('kube-controller-manager', [
    `--kubeconfig=${cm}`,
    `--service-account-private-key-file=${path.join(paths.pki, 'sa.key')}`,
    `--root-ca-file=${path.join(paths.pki, 'apiserver.crt')}`,
    '--use-service-account-credentials=true',
    '--leader-elect=false',
    '--secure-port=0',
    // Fewer than the defaults are plenty for one node, and leave the CPU to the pods.
    '--concurrent-deployment-syncs=2',
    '--concurrent-replicaset-syncs=2',
  ]);
  const scheduler = startTool('kube-scheduler', [
    `--kubeconfig=${writeKubeconfig('kube-scheduler', inClusterServer)}`,
    '--leader-elect=false',
    '--secure-port=0',
  ]);
  return { controllerManager, scheduler };
}

/**
 * kubelet, under a host-wide lock around the global sysctls it changes: they are read first, and written back as
 * soon as kubelet has applied its values (kernel.panic=10, panic_on_oops=1, ...), so the machine runs with them for
 * seconds, not for the whole suite, and two runs starting at once do not take each other's values for the original.
 */
async function startKubelet() {
  fs.mkdirSync(paths.kubelet, { recursive: true });
  fs.writeFileSync(path.join(paths.kubelet, 'resolv.conf'), `nameserver ${NET.dnsServiceIp}\n`);
  const config = {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: NET.nodeIp,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10248,
    containerRuntimeEndpoint: `unix://${paths.containerdSocket}`,
    // cgroup v1 only on this machine kind.
    cgroupDriver: 'cgroupfs',
    failCgroupV1: false,
    cgroupRoot: `/${cgroup}`,
    failSwapOn: false,
    // Reached only from inside the namespace (the API server for logs and exec).
    authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
    authorization: { mode: 'AlwaysAllow' },
    clusterDNS: [NET.dnsServiceIp],
    clusterDomain: NET.clusterDomain,
    // The pods' resolv.conf is built from this one, so the host's search domains stay out.
    resolvConf: path.join(paths.kubelet, 'resolv.conf'),
    podLogsDir: path.join(paths.kubelet, 'pod-logs'),
    // How often kubelet re-syncs a running pod, which is when a changed ConfigMap reaches its volume. The default
    // is 1m; a short one keeps the refresh scenario short (docs/e2e.md).
    syncFrequency: '10s',
    serializeImagePulls: false,
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: {
      'memory.available': '100Mi',
      'nodefs.available': '1%',
      'imagefs.available': '1%',
      'nodefs.inodesFree': '1%',
    },
    protectKernelDefaults: false,
    maxPods: 60,
  };
  fs.writeFileSync(path.join(paths.kubelet, 'config.yaml'), YAML.stringify(config));
  const kubeconfig = writeKubeconfig('kubelet', inClusterServer);
  await withSysctlLock(async () => {
    state.sysctls = readSysctls();
    writeState();
    const kubelet = startTool('kubelet', [
      `--config=${path.join(paths.kubelet, 'config.yaml')}`,
      `--kubeconfig=${kubeconfig}`,
      `--root-dir=${path.join(paths.kubelet, 'root')}`,
      `--cert-dir=${path.join(paths.kubelet, 'pki')}`,
      `--hostname-override=${NODE_NAME}`,
      `--node-ip=${NET.nodeIp}`,
    ]);
    const original = /** @type {Record<string, string>} */ (state.sysctls);
    await waitFor('kubelet', kubelet, async () => {
      const { status, body } = /** @type {any} */ (await api('GET', `/api/v1/nodes/${NODE_NAME}`));
      return (
        status === 200 &&
        body.status?.conditions?.some((/** @type {any} */ c) => c.type === 'Ready' && c.status === 'True')
      );
    });
    // kubelet sets them before it reports Ready (container manager start); give them back.
    writeSysctls(original);
  });
}

/** @param {() => Promise<void>} body */
async function withSysctlLock(body) {
  const lock = path.join(stateDir, 'sysctl.lock');
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch {
      const holder = Number(fs.readFileSync(lock, 'utf8'));
      if (!alive(holder)) fs.rmSync(lock, { force: true });
      else if (Date.now() > deadline) throw new Error(`sysctl lock ${lock} held by ${holder} for too long`);
      else await sleep(200);
    }
  }
  try {
    await body();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

async function startKubeProxy() {
  const config = {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig: writeKubeconfig('kube-proxy', inClusterServer) },
    hostnameOverride: NODE_NAME,
    bindAddress: NET.nodeIp,
    healthzBindAddress: '127.0.0.1:10256',
    metricsBindAddress: '127.0.0.1:10249',
    mode: 'iptables',
    clusterCIDR: NET.podCidr,
    // Pods and the service host share one bridge, and the namespace has no bridge netfilter: without SNAT the
    // answer of a Service's endpoint would go straight back over the bridge, around the DNAT.
    iptables: { masqueradeAll: true, localhostNodePorts: false },
    // Leave the machine's conntrack sysctls alone (they are not per namespace).
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    nodePortAddresses: [`${NET.nodeIp}/32`],
  };
  const file = path.join(dir, 'kube-proxy.yaml');
  fs.writeFileSync(file, YAML.stringify(config));
  const proxy = startTool('kube-proxy', [`--config=${file}`]);
  await waitFor(
    'kube-proxy',
    proxy,
    async () => (await relayGet('127.0.0.1:10256', '/healthz')).status === 200,
  );
}

/** kube-dns: a Service without selector whose EndpointSlice names the DNS server on the service host. */
async function startDns() {
  const { child } = await startScript('dns', 'dns-server.mjs', [
    NET.serviceHostIp,
    inClusterServer,
    path.join(paths.pki, 'apiserver.crt'),
    path.join(paths.pki, 'admin.token'),
    NET.clusterDomain,
  ]);
  await createExternalService('kube-system', 'kube-dns', NET.dnsServiceIp, [
    { name: 'dns', port: 53, protocol: 'UDP' },
    { name: 'dns-tcp', port: 53, protocol: 'TCP' },
  ]);
  return child;
}

/**
 * @param {string} namespace @param {string} name @param {string} clusterIP
 * @param {{ name: string, port: number, protocol: string }[]} ports
 */
async function createExternalService(namespace, name, clusterIP, ports) {
  const svc = /** @type {any} */ (
    await api('POST', `/api/v1/namespaces/${namespace}/services`, {
      metadata: { name },
      spec: { clusterIP, ports: ports.map((p) => ({ ...p, targetPort: p.port })) },
    })
  );
  if (svc.status !== 201)
    throw new Error(`creating Service ${namespace}/${name}: ${JSON.stringify(svc.body)}`);
  const slice = /** @type {any} */ (
    await api('POST', `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`, {
      metadata: { name, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [NET.serviceHostIp], conditions: { ready: true } }],
      ports,
    })
  );
  if (slice.status !== 201)
    throw new Error(`creating EndpointSlice ${namespace}/${name}: ${JSON.stringify(slice.body)}`);
}

// ---- stop ----------------------------------------------------------------------------------------------------------
let stopping = false;
/** @param {number} code */
async function stop(code) {
  if (stopping) return;
  stopping = true;
  try {
    for (const close of forwards) await close().catch(() => undefined);
    leaveCgroup();
    await removeRun(state);
    fs.rmSync(stateFile, { force: true });
    removeSharedUnlessUsed(stateDir, isLive);
  } catch (error) {
    log(`clean-up failed: ${error instanceof Error ? error.message : String(error)}`);
    code = code || 1;
  } finally {
    process.exit(code);
  }
}
process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));
process.on('SIGHUP', () => void stop(0));
setInterval(() => {
  if (!alive(parentPid)) void stop(0);
}, 250);

// ---- start ---------------------------------------------------------------------------------------------------------
const phases = /** @type {Record<string, number>} */ ({});
/** @template T @param {string} name @param {() => T | Promise<T>} step @returns {Promise<T>} */
async function phase(name, step) {
  const start = Date.now();
  const result = await step();
  phases[name] = Math.round((Date.now() - start) / 100) / 10;
  if (process.env.MODELGATE_TEST_E2E_VERBOSE === '1') log(`${name}: ${phases[name]}s`);
  return result;
}

try {
  await reapAbandoned();
  writeState();
  addHostGuard();
  fs.mkdirSync(paths.logs, { recursive: true, mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  enterCgroup();
  await phase('network', () => makeNetwork());
  await startScript('relay', 'relay.mjs', [paths.relaySocket]);
  makeCredentials();
  await phase('control plane', async () => startApiserver(await startEtcd()));
  await phase('containerd', () => startContainerd());
  await phase('images', () => {
    importImage(pauseArchive);
    for (const archive of images) importImage(archive);
    const names = imageNames();
    if (!names.includes(SANDBOX_IMAGE))
      throw new Error(
        `the pause archive ${pauseArchive} holds no ${SANDBOX_IMAGE} (images: ${names.join(', ')})`,
      );
  });
  startControllers();
  await phase('kubelet', () => startKubelet());
  await phase('kube-proxy', () => startKubeProxy());
  await phase('dns', () => startDns());
  /** @type {{ url: string, hostUrl: string } | undefined} */
  let postgres;
  if (withPostgres) {
    postgres = await phase('postgres', async () => {
      const { first } = await startScript('postgres', 'postgres.mjs', [
        path.join(dir, 'postgres', 'data'),
        NET.serviceHostIp,
        String(PORTS.postgres),
        NET.podCidr,
      ]);
      const forward = await openForward(paths.relaySocket, `${NET.serviceHostIp}:${PORTS.postgres}`);
      forwards.push(forward.close);
      const { url } = JSON.parse(first);
      return { url, hostUrl: url.replace(`${NET.serviceHostIp}:${PORTS.postgres}`, forward.url) };
    });
  }
  const apiForward = await openForward(paths.relaySocket, `${NET.nodeIp}:${PORTS.apiserver}`);
  forwards.push(apiForward.close);
  const kubeconfig = writeKubeconfig('admin', `https://${apiForward.url}`, { tlsServerName: 'kubernetes' });
  log(`node ${NODE_NAME} ready in ${dir} (${JSON.stringify(phases)})`);
  process.stdout.write(
    `${JSON.stringify({
      id,
      dir,
      cgroup,
      stateFile,
      netns: paths.netns,
      relaySocket: paths.relaySocket,
      kubeconfig,
      server: `https://${apiForward.url}`,
      caFile: path.join(paths.pki, 'apiserver.crt'),
      issuer: ISSUER,
      nodeName: NODE_NAME,
      net: NET,
      postgres,
      images: imageNames(),
      phases,
      logs: paths.logs,
      containerdAddress: paths.containerdSocket,
      containerdState: paths.containerdState,
    })}\n`,
  );
} catch (error) {
  log(error instanceof Error ? error.message : String(error));
  await stop(1);
}

// @ts-check
// What an e2e node leaves on the machine and how it is removed: shared by the supervisor (normal stop, and reaping
// a predecessor that was SIGKILLed) and by the clean-up test, which asserts that nothing is left.
//
// A run owns, and is the only one to touch:
//   - its directory (<tmp>/mge2e-<id>): every path of every component, including the network namespace file, the
//     pods' network namespaces (containerd's netns_mounts_under_state_dir), kubelet's root and pod logs,
//     containerd's root and state, the CNI configuration and IPAM state;
//   - the cgroup `mge2e-<id>` in every mounted hierarchy: the supervisor moves itself into `<id>/harness` before it
//     starts anything, so every process of the run, the containerd shims (which leave their parent's process tree)
//     and the containers (kubelet's cgroupRoot is `/mge2e-<id>`) are in that tree, and nowhere else;
//   - the containerd shim sockets it caused in /run/containerd/s (containerd 1.6 puts them there whatever its
//     state dir; their names are hashes of the run's containerd address and the sandbox ids);
//   - the global sysctls kubelet changes (its network namespace takes the network ones with it), restored to the
//     values read before kubelet started.
// Bridges, veths, routes and every iptables chain live inside the run's network namespace, which disappears with
// its last process and mount.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cmdline } from '../../support/watchdog.mjs';

/** Global (not per network namespace) sysctls kubelet sets when protectKernelDefaults is off. */
export const KUBELET_SYSCTLS = [
  'vm.overcommit_memory',
  'vm.panic_on_oom',
  'kernel.panic',
  'kernel.panic_on_oops',
  'kernel.keys.root_maxkeys',
  'kernel.keys.root_maxbytes',
];

export const SHIM_SOCKET_DIR = '/run/containerd/s';

/**
 * @typedef {{
 *   supervisorPid: number,
 *   id: string,
 *   dir: string,
 *   cgroup: string,
 *   containerdAddress: string,
 *   containerdState: string,
 *   sysctls?: Record<string, string>,
 * }} RunState
 */

/**
 * The host's guard for the namespace's address ranges (pods 198.18.0.0/24, Services 198.19.0.0/24): a blackhole
 * route in the host's own network namespace, so a host process that addressed a pod or a ClusterIP by mistake
 * (instead of going through the relay) gets an error at once and no packet ever leaves towards the default route.
 * Shared by every live run: added by the first, removed with the last.
 */
export const HOST_GUARD = ['blackhole', '198.18.0.0/15', 'metric', '4242'];

export function addHostGuard() {
  execFileSync('ip', ['route', 'replace', ...HOST_GUARD], { stdio: 'ignore' });
}

/**
 * The last run to stop removes what runs share: the host guard and SHARED_PATHS (sockets, and directories that are
 * empty).
 * @param {string} stateDir @param {(state: RunState) => boolean} isLive
 */
export function removeSharedUnlessUsed(stateDir, isLive) {
  for (const file of fs.readdirSync(stateDir)) {
    if (!file.endsWith('.json')) continue;
    try {
      if (isLive(JSON.parse(fs.readFileSync(path.join(stateDir, file), 'utf8')))) return;
    } catch {
      return; // a run writing its state right now
    }
  }
  try {
    execFileSync('ip', ['route', 'del', ...HOST_GUARD], { stdio: 'ignore' });
  } catch {
    // not there
  }
  for (const shared of SHARED_PATHS) {
    try {
      if (fs.lstatSync(shared).isSocket()) fs.rmSync(shared);
      else fs.rmdirSync(shared);
    } catch {
      // absent, or not empty (someone else's)
    }
  }
}

/** @returns {string[]} the shared things that exist: SHARED_PATHS, the host guard */
export function sharedLeft() {
  const left = SHARED_PATHS.filter((p) => fs.existsSync(p));
  const guard = execFileSync('ip', ['route', 'show', HOST_GUARD[1] ?? ''], { encoding: 'utf8' }).trim();
  if (guard) left.push(`route ${guard}`);
  return left;
}

/** @param {string} name */
function sysctlPath(name) {
  return path.join('/proc/sys', ...name.split('.'));
}

/** @param {string[]} names @returns {Record<string, string>} */
export function readSysctls(names = KUBELET_SYSCTLS) {
  return Object.fromEntries(names.map((name) => [name, fs.readFileSync(sysctlPath(name), 'utf8').trim()]));
}

/** @param {Record<string, string>} values */
export function writeSysctls(values) {
  for (const [name, value] of Object.entries(values)) {
    try {
      if (fs.readFileSync(sysctlPath(name), 'utf8').trim() !== value)
        fs.writeFileSync(sysctlPath(name), `${value}\n`);
    } catch {
      // not present on this kernel
    }
  }
}

/** @param {string} field a mountinfo path field (spaces and the like are octal escapes) */
const unescapeMountPath = (field) =>
  field.replace(/\\([0-7]{3})/g, (_, oct) => String.fromCharCode(parseInt(oct, 8)));

/** @returns {{ mountPoint: string, fsType: string, source: string }[]} the host's mounts, in mount order */
export function mounts() {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .trimEnd()
    .split('\n')
    .map((line) => {
      const [before, after = ''] = line.split(' - ');
      const fields = (before ?? '').split(' ');
      const [fsType = '', source = ''] = after.split(' ');
      return { mountPoint: unescapeMountPath(fields[4] ?? ''), fsType, source };
    });
}

/** @param {string} dir @returns {string[]} mount points at or below dir, deepest first */
export function mountsUnder(dir) {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return [
    ...new Set(
      mounts()
        .map((m) => m.mountPoint)
        .filter((p) => p === dir || p.startsWith(prefix)),
    ),
  ].sort((a, b) => b.split('/').length - a.split('/').length || b.length - a.length);
}

/** Detaches every mount at or below dir (several rounds: a mount point can be stacked). @param {string} dir */
export function unmountUnder(dir) {
  for (let round = 0; round < 10; round++) {
    const points = mountsUnder(dir);
    if (points.length === 0) return;
    for (const point of points) {
      try {
        execFileSync('umount', ['--lazy', point], { stdio: 'ignore' });
      } catch {
        // gone already (a parent's detach took it)
      }
    }
  }
}

/** @returns {string[]} the mount points of the cgroup hierarchies (v1 controllers, named ones, and a v2 one) */
export function cgroupHierarchies() {
  return mounts()
    .filter((m) => m.fsType === 'cgroup' || m.fsType === 'cgroup2')
    .map((m) => m.mountPoint);
}

/** @param {string} cgroup @returns {string[]} the cgroup's directories that exist, one per hierarchy */
export function cgroupDirs(cgroup) {
  return cgroupHierarchies()
    .map((root) => path.join(root, cgroup))
    .filter((dir) => fs.existsSync(dir));
}

/** @param {string} dir @returns {string[]} dir and its descendant cgroups, deepest first */
function cgroupTree(dir) {
  /** @type {string[]} */
  const found = [];
  const walk = (/** @type {string} */ d) => {
    let entries;
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) if (entry.isDirectory()) walk(path.join(d, entry.name));
    found.push(d);
  };
  walk(dir);
  return found;
}

/** @param {string} cgroup @returns {number[]} every process in the cgroup's tree, in any hierarchy */
export function cgroupPids(cgroup) {
  const pids = new Set();
  for (const dir of cgroupDirs(cgroup)) {
    for (const d of cgroupTree(dir)) {
      try {
        for (const pid of fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n'))
          if (pid) pids.add(Number(pid));
      } catch {
        // removed meanwhile
      }
    }
  }
  return [...pids];
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * SIGKILLs every process in the cgroup's tree until none is left (processes may fork meanwhile).
 * @param {string} cgroup @param {number} [timeoutMs]
 */
export async function killCgroup(cgroup, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = cgroupPids(cgroup);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited
      }
    }
    if (Date.now() > deadline)
      throw new Error(`processes of cgroup ${cgroup} survive SIGKILL: ${pids.join(' ')}`);
    await sleep(100);
  }
}

/** Removes the cgroup's tree in every hierarchy (its processes must be gone). @param {string} cgroup */
export async function removeCgroup(cgroup) {
  for (let round = 0; round < 50; round++) {
    let left = 0;
    for (const dir of cgroupDirs(cgroup)) {
      for (const d of cgroupTree(dir)) {
        try {
          fs.rmdirSync(d);
        } catch {
          left++;
        }
      }
    }
    if (left === 0) return;
    // A cgroup is busy for a moment after its last process died.
    await sleep(100);
  }
}

/** @param {RunState} state @returns {string[]} the ids of every sandbox and container containerd ran */
function taskIds(state) {
  const tasks = path.join(state.containerdState, 'io.containerd.runtime.v2.task');
  try {
    return fs
      .readdirSync(tasks)
      .flatMap((ns) => fs.readdirSync(path.join(tasks, ns)).map((id) => ({ ns, id })))
      .map(({ ns, id }) => `${ns}/${id}`);
  } catch {
    return [];
  }
}

/**
 * The files the run's containerd and its CNI plugins leave outside the run's directory, whatever their
 * configuration: the shim sockets containerd 1.6 puts in /run/containerd/s (named by the sha256 of its address,
 * namespace and task id; hashing every id is harmless), the CNI result cache (/var/lib/cni/results/<network>-<id>-
 * <interface>: every result of the run's sandboxes) and kubelet's links in /var/log/containers to the run's
 * pod logs. Computed while the run's directory still exists.
 * @param {RunState} state
 */
export function runFiles(state) {
  const ids = taskIds(state);
  const files = ids.map((nsId) =>
    path.join(
      SHIM_SOCKET_DIR,
      createHash('sha256').update(path.join(state.containerdAddress, nsId)).digest('hex'),
    ),
  );
  const listing = (/** @type {string} */ dir) => {
    try {
      return fs.readdirSync(dir).map((name) => path.join(dir, name));
    } catch {
      return [];
    }
  };
  // A sandbox's results (the run's network's and containerd's built-in cni-loopback, whose configuration names no
  // directory) are named <network>-<sandbox id>-<interface>. The run's sandboxes: those of the tasks containerd still
  // lists, and those a result of the run's own network names (a sandbox whose task is not there, or no longer).
  const results = listing(CNI_RESULTS);
  const sandboxIds = new Set(ids.map((nsId) => nsId.split('/')[1]));
  for (const file of results) {
    const id = SANDBOX_IN_RESULT.exec(path.basename(file))?.[1];
    if (id && cniResultOfRun(file, state.dir)) sandboxIds.add(id);
  }
  files.push(
    ...results.filter((file) => sandboxIds.has(SANDBOX_IN_RESULT.exec(path.basename(file))?.[1] ?? '')),
  );
  files.push(
    ...listing(CONTAINER_LOG_LINKS).filter((link) => {
      try {
        return fs.readlinkSync(link).startsWith(`${state.dir}/`);
      } catch {
        return false;
      }
    }),
  );
  return files;
}

/**
 * Whether a CNI result cache file belongs to the run, by what it holds rather than by a task containerd still
 * lists: containerd sets a sandbox's network up before it creates the sandbox's task, and removes the task before
 * it tears the network down, so a node stopped in between leaves a result whose sandbox id no task names. The cache
 * (libcni's cachedInfo) keeps the network configuration it was made with, base64 in `config`, and the run's
 * configuration names the run's directory (the IPAM dataDir); its `netns`, where libcni records it, is below the
 * directory too. Every run's network is called mge2e, so the name alone cannot tell runs apart.
 * @param {string} file @param {string} dir the run's directory
 */
export function cniResultOfRun(file, dir) {
  let cached;
  try {
    cached = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return false; // not a cache file, or gone
  }
  const config =
    typeof cached?.config === 'string' ? Buffer.from(cached.config, 'base64').toString('utf8') : '';
  const netns = typeof cached?.netns === 'string' ? cached.netns : '';
  return [config, netns].some((text) => text.includes(`${dir}/`));
}

/** The sandbox id in a result cache file's name (<network>-<id>-<interface>; containerd's ids are 64 hex digits). */
const SANDBOX_IN_RESULT = /-([0-9a-f]{64})-[^-]+$/;

export const CNI_RESULTS = '/var/lib/cni/results';
export const CONTAINER_LOG_LINKS = '/var/log/containers';
/**
 * Host paths kubelet and the CNI library use whatever their configuration, shared by every live run: kubelet's
 * device plugin socket (kubelet hard-codes /var/lib/kubelet/device-plugins), the directories above it, the CNI
 * result cache's and the container log links' directories. Removed by the last run to stop, when empty.
 */
export const SHARED_PATHS = [
  '/var/lib/kubelet/device-plugins/kubelet.sock',
  '/var/lib/kubelet/device-plugins',
  '/var/lib/kubelet',
  CNI_RESULTS,
  path.dirname(CNI_RESULTS),
  CONTAINER_LOG_LINKS,
  SHIM_SOCKET_DIR,
  path.dirname(SHIM_SOCKET_DIR),
];

/**
 * Removes everything the run made, in an order that lets each step succeed: processes (so nothing re-creates or
 * holds what follows), mounts, shim sockets, the directory, the cgroups, the sysctls. The caller must not be in the
 * run's cgroups itself.
 * @param {RunState} state
 */
export async function removeRun(state) {
  await killCgroup(state.cgroup);
  unmountUnder(state.dir);
  for (const file of runFiles(state)) fs.rmSync(file, { force: true });
  fs.rmSync(state.dir, { recursive: true, force: true });
  await removeCgroup(state.cgroup);
  if (state.sysctls) writeSysctls(state.sysctls);
}

/**
 * What of the run is still on the machine, one line each (empty when it is all gone): processes in its cgroups or
 * naming its directory, mounts below the directory or of its network namespaces, the directory, cgroups, shim
 * sockets, CNI results and log links (runFiles), and sysctls that differ from the values read before kubelet
 * started.
 * @param {RunState} state @param {string[]} [files] runFiles(state), computed before the directory went away
 */
export function residue(state, files = []) {
  /** @type {string[]} */
  const left = [];
  for (const pid of cgroupPids(state.cgroup))
    left.push(`process ${pid} in cgroup ${state.cgroup}: ${cmdline(pid)}`);
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const line = cmdline(Number(entry));
    if (line.includes(state.dir)) left.push(`process ${entry} naming ${state.dir}: ${line}`);
  }
  for (const point of mountsUnder(state.dir)) left.push(`mount ${point}`);
  if (fs.existsSync(state.dir)) left.push(`directory ${state.dir}`);
  for (const dir of cgroupDirs(state.cgroup)) left.push(`cgroup ${dir}`);
  for (const file of files) {
    try {
      fs.lstatSync(file);
      left.push(`file ${file}`);
    } catch {
      // gone
    }
  }
  if (state.sysctls) {
    const now = readSysctls(Object.keys(state.sysctls));
    for (const [name, value] of Object.entries(state.sysctls))
      if (now[name] !== value) left.push(`sysctl ${name} = ${now[name]} (was ${value})`);
  }
  return left;
}

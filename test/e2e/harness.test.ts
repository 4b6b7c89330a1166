// The e2e node harness itself: nothing of a node outlives it. A node whose supervisor is SIGKILLed keeps running
// (kubelet, containerd, the shims and the pods do not notice), and the next supervisor reaps all of it; a node
// stopped normally leaves no process, mount, network namespace, bridge, iptables chain, cgroup or sysctl change.
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { describeE2E, e2eNode, PAUSE_IMAGE, until } from './harness/node';

const { startNode } = require('./harness/global-setup.js') as {
  startNode(
    parentPid: number,
    args: string[],
  ): Promise<{ supervisor: ChildProcess; info: { stateFile: string; kubeconfig: string; dir: string } }>;
};
const cleanup = require('./harness/node-cleanup.mjs') as typeof import('./harness/node-cleanup.mjs');

/** What a node could leave on the host: its iptables, links, addresses, routes, namespaces, sysctls. */
function hostSnapshot() {
  const sh = (command: string, args: string[]) => {
    try {
      return execFileSync(command, args, { encoding: 'utf8' })
        .split('\n')
        .filter((line) => line && !line.startsWith('#'))
        .map((line) => line.replace(/\[\d+:\d+\]/g, ''))
        .join('\n');
    } catch (error) {
      return `(${command} failed: ${(error as Error).message})`;
    }
  };
  return {
    iptables: sh('iptables-save', []),
    ip6tables: sh('ip6tables-save', []),
    links: sh('ip', ['-o', 'link', 'show']).replace(/\s+link\/.*$/gm, ''),
    addresses: sh('ip', ['-o', 'addr', 'show']),
    routes: sh('ip', ['route', 'show', 'table', 'all']),
    netns: fs.existsSync('/run/netns') ? fs.readdirSync('/run/netns') : [],
    sysctls: cleanup.readSysctls(),
    cgroups: cleanup
      .cgroupHierarchies()
      .flatMap((root) => fs.readdirSync(root).filter((d) => d.startsWith('mge2e-'))),
  };
}

/** A pod of the pause image on the node, Running: so there are shims, a pod netns, mounts and pod cgroups. */
async function runPod(kubeconfig: string): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const api = kc.makeApiClient(k8s.CoreV1Api);
  await until('the default ServiceAccount', () =>
    api.readNamespacedServiceAccount({ name: 'default', namespace: 'default' }),
  );
  await api.createNamespacedPod({
    namespace: 'default',
    body: {
      metadata: { name: 'sleeper' },
      spec: {
        automountServiceAccountToken: false,
        containers: [{ name: 'pause', image: PAUSE_IMAGE, imagePullPolicy: 'Never' }],
      },
    },
  });
  await until(
    'the pod to run',
    async () =>
      (await api.readNamespacedPod({ name: 'sleeper', namespace: 'default' })).status?.phase === 'Running'
        ? true
        : undefined,
    120_000,
  );
}

function readState(info: { stateFile: string }): import('./harness/node-cleanup.mjs').RunState {
  return JSON.parse(fs.readFileSync(info.stateFile, 'utf8'));
}

describeE2E('e2e node harness: a run leaves nothing behind', () => {
  it('reaps a SIGKILLed supervisor on the next start, and a normal stop leaves nothing', async () => {
    const args = ['--pause', e2eNode().archives.pause, '--no-postgres'];
    const before = hostSnapshot();

    const first = await startNode(process.pid, args);
    await runPod(first.info.kubeconfig);
    const firstState = readState(first.info);
    const firstShims = cleanup.runFiles(firstState);
    expect(firstShims.length).toBeGreaterThan(0);
    // The pod's CNI result is the run's by what it holds, not only by a task containerd still lists.
    const ownResults = fs
      .readdirSync(cleanup.CNI_RESULTS)
      .map((name) => `${cleanup.CNI_RESULTS}/${name}`)
      .filter((file) => cleanup.cniResultOfRun(file, firstState.dir));
    expect(ownResults.length).toBeGreaterThan(0);
    // Every result of the pod's sandbox is the run's, containerd's cni-loopback one (which names no directory) too.
    const sandboxes = ownResults.map((file) => /-([0-9a-f]{64})-[^-]+$/.exec(file)?.[1] ?? file);
    const sandboxResults = fs
      .readdirSync(cleanup.CNI_RESULTS)
      .filter((name) => sandboxes.some((id) => name.includes(`-${id}-`)))
      .map((name) => `${cleanup.CNI_RESULTS}/${name}`);
    expect(sandboxResults.some((file) => file.includes('/cni-loopback-'))).toBe(true);
    expect(firstShims).toEqual(expect.arrayContaining(sandboxResults));
    expect(cleanup.mountsUnder(firstState.dir).length).toBeGreaterThan(0);
    const exited = new Promise((resolve) => first.supervisor.once('exit', resolve));
    first.supervisor.kill('SIGKILL');
    await exited;
    // Orphaned, the node runs on: kubelet, containerd, the shims and the pod's processes.
    const orphans = cleanup.cgroupPids(firstState.cgroup);
    expect(orphans.length).toBeGreaterThan(5);
    expect(cleanup.residue(firstState, firstShims).length).toBeGreaterThan(0);

    const second = await startNode(process.pid, args);
    expect(cleanup.residue(firstState, firstShims)).toEqual([]);
    expect(orphans.filter((pid) => fs.existsSync(`/proc/${pid}`))).toEqual([]);

    await runPod(second.info.kubeconfig);
    const secondState = readState(second.info);
    const secondShims = cleanup.runFiles(secondState);
    const stopped = new Promise((resolve) => second.supervisor.once('exit', resolve));
    second.supervisor.kill('SIGTERM');
    expect(await stopped).toBe(0);
    expect(cleanup.residue(secondState, secondShims)).toEqual([]);
    expect(fs.existsSync(second.info.stateFile)).toBe(false);

    expect(hostSnapshot()).toEqual(before);
  });
});

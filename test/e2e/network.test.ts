// The network rule, checked on the running node without sending anything anywhere: the node's namespace and its
// pods have routes to the pod network and the Service range only, so no address outside them (the machine's own
// addresses included) can even be looked up as a destination; the host side has no route into those ranges but a
// blackhole, and reaches the namespace only through the relay's Unix socket.
import { execFileSync } from 'node:child_process';
import { expectSuccess } from '../support/k8s/commands';
import { core, e2eNode, IMAGE, until } from './harness/node';
import { describeScenario } from './harness/scenario';

/** The host's own global addresses (eth0 and the like), IPv4 and IPv6. */
function hostAddresses(): string[] {
  const out = JSON.parse(execFileSync('ip', ['-j', 'addr', 'show'], { encoding: 'utf8' })) as {
    addr_info: { local: string; scope: string }[];
  }[];
  return out.flatMap((link) => link.addr_info.filter((a) => a.scope === 'global').map((a) => a.local));
}

/** `ip route get <address>` inside the node's namespace: the route it would take, or the kernel's refusal. */
function routeInNode(address: string): string {
  try {
    return execFileSync('nsenter', [`--net=${e2eNode().netns}`, '--', 'ip', 'route', 'get', address], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    return String((error as { stderr?: string }).stderr ?? error).trim();
  }
}

/** /proc/net/route rows as CIDRs (the kernel writes addresses little-endian in hex). */
function routesOf(procNetRoute: string): string[] {
  const ip = (hex: string) =>
    (hex.match(/../g) ?? [])
      .reverse()
      .map((b) => parseInt(b, 16))
      .join('.');
  const bits = (hex: string) =>
    ip(hex)
      .split('.')
      .reduce((n, b) => n + Number(b).toString(2).replaceAll('0', '').length, 0);
  return procNetRoute
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .map((f) => `${ip(f[1]!)}/${bits(f[7]!)}`)
    .sort();
}

/** The links in the node's namespace: name and MAC address. */
function linksInNode(): { ifname: string; address: string }[] {
  return JSON.parse(
    execFileSync('nsenter', [`--net=${e2eNode().netns}`, '--', 'ip', '-j', 'link', 'show'], {
      encoding: 'utf8',
    }),
  ) as { ifname: string; address: string }[];
}

/** The MAC addresses of the links in the node's namespace whose names match. */
function macsInNode(match: (link: string) => boolean): string[] {
  return linksInNode()
    .filter((l) => match(l.ifname))
    .map((l) => l.address);
}

describeScenario(
  'e2e network: nothing leaves the node namespace, nothing outside it is a destination',
  'network',
  (s) => {
    it('has no route from the node namespace to any host address, and none in from the host', () => {
      const node = e2eNode();
      const addresses = hostAddresses();
      expect(addresses.length).toBeGreaterThan(0);
      for (const address of addresses) expect(routeInNode(address)).toMatch(/Network is unreachable/);
      expect(routeInNode('1.1.1.1')).toMatch(/Network is unreachable/);
      // Inside: the pod network is on the bridge, Services go through kube-proxy's rules on it.
      expect(routeInNode(node.net.podRangeStart)).toMatch(new RegExp(`dev ${node.net.bridge}`));
      const links = linksInNode().map((l) => l.ifname);
      expect(links.filter((l) => l !== 'lo' && l !== node.net.bridge && !l.startsWith('veth'))).toEqual([]);
      // The host: no address in the namespace's ranges, and a blackhole for them, not the default route.
      expect(addresses.filter((a) => a.startsWith('198.18.') || a.startsWith('198.19.'))).toEqual([]);
      expect(execFileSync('ip', ['route', 'show', '198.18.0.0/15'], { encoding: 'utf8' })).toMatch(
        /^blackhole/,
      );
    });

    /** Runs `node -e script` in a pod of the image (as a user, no token) and waits for the pod's `phase`. */
    async function nodePod(name: string, script: string, phase: 'Running' | 'Succeeded'): Promise<void> {
      await core().createNamespacedPod({
        namespace: s.namespace,
        body: {
          metadata: { name },
          spec: {
            automountServiceAccountToken: false,
            restartPolicy: 'Never',
            terminationGracePeriodSeconds: 0,
            securityContext: { runAsNonRoot: true, runAsUser: 10001 },
            containers: [
              {
                name,
                image: `${IMAGE.repository}:${IMAGE.tag}`,
                imagePullPolicy: 'Never',
                command: ['node', '-e', script],
              },
            ],
          },
        },
      });
      await until(`the pod ${name} to be ${phase}`, async () => {
        const pod = await core().readNamespacedPod({ name, namespace: s.namespace });
        return pod.status?.phase === phase ? pod : undefined;
      });
    }

    it('gives a pod routes to the pod network and the Service range only', async () => {
      await nodePod(
        'routes',
        "process.stdout.write(require('fs').readFileSync('/proc/net/route', 'utf8'))",
        'Succeeded',
      );
      const log = expectSuccess('kubectl logs', await s.kubectl(['logs', 'routes']));
      const node = e2eNode();
      expect(routesOf(log.stdout)).toEqual([node.net.podCidr, node.net.serviceCidr].sort());
    });

    it('keeps the bridge on its own MAC address while pods come and go', async () => {
      const node = e2eNode();
      const bridgeMac = () => macsInNode((link) => link === node.net.bridge);
      expect(bridgeMac()).toEqual([node.net.bridgeMac]);
      // A bridge left to choose takes the lowest MAC of its ports: with a pod running it would be that pod's veth.
      await nodePod('port', 'setInterval(() => {}, 60_000)', 'Running');
      const ports = macsInNode((link) => link.startsWith('veth'));
      expect(ports.length).toBeGreaterThan(0);
      expect(ports).not.toContain(node.net.bridgeMac);
      expect(bridgeMac()).toEqual([node.net.bridgeMac]);
      await core().deleteNamespacedPod({ name: 'port', namespace: s.namespace, gracePeriodSeconds: 0 });
      await until('the pod port to be gone', async () =>
        (await s.pods('')).some((p) => p.metadata?.name === 'port') ? undefined : true,
      );
      expect(bridgeMac()).toEqual([node.net.bridgeMac]);
    });
  },
);

// Helpers for scenarios against the run's e2e node (global-setup.js starts it; docs/e2e.md describes it).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import * as k8s from '@kubernetes/client-node';
import { describeWithTools, type ToolName } from '../../support/tools';
import { eventually } from '../../support/wait';
import { openForward } from './relay-client.mjs';

const { unmetForE2e, BUILT } = require('./requirements.js') as {
  unmetForE2e(): string | undefined;
  BUILT: ToolName[];
};

export interface E2eNode {
  id: string;
  dir: string;
  cgroup: string;
  stateFile: string;
  netns: string;
  relaySocket: string;
  /** Admin kubeconfig (system:masters) through a loopback forward to the API server. */
  kubeconfig: string;
  server: string;
  caFile: string;
  issuer: string;
  nodeName: string;
  net: {
    podCidr: string;
    podRangeStart: string;
    nodeIp: string;
    serviceHostIp: string;
    serviceCidr: string;
    kubernetesServiceIp: string;
    dnsServiceIp: string;
    clusterDomain: string;
    bridge: string;
    bridgeMac: string;
  };
  /** The shared PostgreSQL: `url` as seen inside the namespace, `hostUrl` through a loopback forward. */
  postgres?: { url: string; hostUrl: string };
  images: string[];
  archives: {
    modelgate: string;
    upgrade: string;
    pause: string;
    seconds: number;
    images: Record<string, string>;
  };
  phases: Record<string, number>;
  setupSeconds: number;
  logs: string;
  containerdAddress: string;
  containerdState: string;
}

/** The images the node holds (scripts/image/e2e-images.sh); imagePullPolicy Never: nothing is ever pulled. */
export const IMAGE = { repository: 'modelgate.test/modelgate', tag: 'e2e', upgradeTag: 'e2e-upgrade' };
export const PAUSE_IMAGE = 'modelgate.test/pause:e2e';

/**
 * `describe` for an e2e scenario. Without root or the node's tools the repo's skip rule applies (describeWithTools):
 * a loud notice and a skipped suite, or, with MODELGATE_REQUIRE_ALL=1, one failing test that says what to run. The
 * body gets the tools' paths.
 */
export function describeE2E(title: string, body: (tools: Record<ToolName, string>) => void): void {
  describeWithTools(title, BUILT, body, unmetForE2e());
}

export function e2eNode(): E2eNode {
  const raw = process.env.MODELGATE_TEST_E2E;
  if (!raw) throw new Error('MODELGATE_TEST_E2E is unset: run e2e tests through jest (`npm run test:e2e`)');
  return JSON.parse(raw) as E2eNode;
}

export function kubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(e2eNode().kubeconfig);
  return kc;
}

export const core = () => kubeConfig().makeApiClient(k8s.CoreV1Api);
export const apps = () => kubeConfig().makeApiClient(k8s.AppsV1Api);
export const batch = () => kubeConfig().makeApiClient(k8s.BatchV1Api);
export const discovery = () => kubeConfig().makeApiClient(k8s.DiscoveryV1Api);

/** A name nobody else in this run uses: `<prefix>-<6 hex>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** eventually (test/support/wait.ts) with the scenarios' argument order and their longer default timeout. */
export function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 180_000,
  intervalMs = 250,
): Promise<T> {
  return eventually(check, timeoutMs, `${what} (${timeoutMs / 1000}s)`, intervalMs);
}

/** A loopback address that reaches `target` (`<ip>:<port>`) inside the node's namespace (relay.mjs). */
export function forward(target: string): Promise<{ port: number; url: string; close: () => Promise<void> }> {
  return openForward(e2eNode().relaySocket, target);
}

/**
 * Starts a harness script (test/e2e/harness/<script>) inside the node's network namespace, in the node's cgroup
 * (so the supervisor's clean-up finds it even if this test is killed), with an IPC channel. Resolves once the
 * script printed its first line (`ready`, or a JSON line).
 */
export async function spawnInNode(
  script: string,
  args: string[],
): Promise<{ child: ChildProcess; first: string }> {
  const node = e2eNode();
  const pidsRoot = '/sys/fs/cgroup/pids';
  const cgroup = path.join(pidsRoot, node.cgroup, 'tests');
  fs.mkdirSync(cgroup, { recursive: true });
  // The shell moves itself into the cgroup, then becomes nsenter, which becomes node: one pid throughout.
  const child = spawn(
    'sh',
    [
      '-c',
      'cg=$0; ns=$1; shift; echo $$ > "$cg/cgroup.procs" && exec nsenter --net="$ns" -- "$@"',
      cgroup,
      node.netns,
      process.execPath,
      path.join(__dirname, script),
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
  );
  const lines = readline.createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${script} exited (${code}) before it was ready`)));
  });
  lines.close();
  return { child, first };
}

/** Sends an IPC message and resolves with the child's next message. */
export function ask<T = unknown>(child: ChildProcess, message: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (reply) => resolve(reply as T));
    child.send(message as never, (error) => error && reject(error));
  });
}

/** Ends a child started by spawnInNode and waits for it. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

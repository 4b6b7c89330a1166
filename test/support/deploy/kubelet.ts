import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import YAML from 'yaml';
import { writeAtomically } from '../kubelet-volume.mjs';
import { freePort } from '../ports.mjs';
import { binaryCommand } from './cli';
import { expandReferences, resolveEnv, type Container, type PodTemplate, type Volume } from './pod-env';
import type { K8sObject } from './render';
import { tempDir } from '../temp.mjs';

/**
 * A stand-in for the kubelet that runs one pod of a rendered manifest as local processes: each volume becomes a
 * temporary directory (emptyDir: empty; configMap: the object from the real API server in the kubelet's
 * atomic-writer layout, kept in sync; projected ServiceAccount token: a real bound token from TokenRequest), each
 * container's environment is built from the pod spec with Secrets and ConfigMaps read from the API server, and its
 * command is the image entry point (package.json bin) run with node.
 *
 * Paths are the one thing rewritten: an environment value that lies under a mountPath is moved to the volume's
 * directory, /tmp becomes TMPDIR, and the in-cluster API configuration (fixed paths under
 * /var/run/secrets/kubernetes.io/serviceaccount) becomes a KUBECONFIG with the same server, CA and token file.
 */

export const TOKEN_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface ClusterAccess {
  /** Admin client (plays the kubelet and the controllers). */
  admin: k8s.KubeConfig;
  server: string;
  caFile: string;
  /** ServiceAccount token audience. */
  issuer: string;
}

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

function configMapFiles(cm: k8s.V1ConfigMap | undefined): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  for (const [key, value] of Object.entries(cm?.data ?? {})) files[key] = Buffer.from(value, 'utf8');
  for (const [key, value] of Object.entries(cm?.binaryData ?? {})) files[key] = Buffer.from(value, 'base64');
  return files;
}

const apiStatus = (error: unknown) => (error instanceof k8s.ApiException ? error.code : undefined);

/** Keeps a configMap volume in step with the API server, like the kubelet's periodic sync (here every 200 ms). */
class ConfigMapVolume {
  private version: string | undefined = 'none';
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;

  constructor(
    private readonly api: k8s.CoreV1Api,
    private readonly namespace: string,
    private readonly source: NonNullable<Volume['configMap']>,
    readonly dir: string,
  ) {}

  async sync(): Promise<void> {
    let cm: k8s.V1ConfigMap | undefined;
    try {
      cm = await this.api.readNamespacedConfigMap({ name: this.source.name, namespace: this.namespace });
    } catch (error) {
      if (apiStatus(error) !== 404) throw error;
      if (!this.source.optional)
        throw new Error(
          `configMap volume: ConfigMap ${this.source.name} does not exist and is not optional`,
          {
            cause: error,
          },
        );
    }
    const version = cm?.metadata?.resourceVersion;
    if (version === this.version) return;
    this.version = version;
    let files = configMapFiles(cm);
    if (this.source.items) {
      const picked: Record<string, Buffer> = {};
      for (const item of this.source.items) if (files[item.key]) picked[item.path] = files[item.key]!;
      files = picked;
    }
    writeAtomically(this.dir, files);
  }

  start(): void {
    const tick = () => {
      this.syncing = this.sync().catch(() => undefined);
      void this.syncing.then(() => {
        if (this.timer) this.timer = setTimeout(tick, 200);
      });
    };
    this.timer = setTimeout(tick, 200);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.syncing;
  }
}

export interface RunningContainer {
  name: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<ProcessResult>;
  /** The container port -> the host port the process listens on. */
  ports: Map<number, number>;
}

export class RehearsalPod {
  readonly workDir: string;
  private readonly volumeDirs = new Map<string, string>();
  private readonly configMapVolumes: ConfigMapVolume[] = [];
  private readonly running: RunningContainer[] = [];
  private readonly core: k8s.CoreV1Api;

  constructor(
    private readonly cluster: ClusterAccess,
    readonly namespace: string,
    readonly template: PodTemplate,
    readonly podName: string,
    /** Cluster DNS for Services, as kube-proxy would route it: `<name>.<namespace>:<port>` -> local port. */
    private readonly services: ReadonlyMap<string, number> = new Map(),
  ) {
    this.workDir = tempDir(`pod-${podName}`);
    this.core = cluster.admin.makeApiClient(k8s.CoreV1Api);
  }

  /** Volumes are set up before any container starts, as on a node. */
  async prepareVolumes(): Promise<void> {
    for (const volume of this.template.spec.volumes ?? []) {
      const dir = path.join(this.workDir, 'volumes', volume.name);
      mkdirSync(dir, { recursive: true });
      this.volumeDirs.set(volume.name, dir);
      if (volume.emptyDir) continue;
      if (volume.configMap) {
        const synced = new ConfigMapVolume(this.core, this.namespace, volume.configMap, dir);
        await synced.sync();
        synced.start();
        this.configMapVolumes.push(synced);
      } else if (volume.projected) {
        await this.project(volume, dir);
      } else {
        throw new Error(`the rehearsal does not support volume ${volume.name}: ${JSON.stringify(volume)}`);
      }
    }
  }

  private async project(volume: Volume, dir: string): Promise<void> {
    for (const source of volume.projected!.sources) {
      if (source.serviceAccountToken) {
        const { path: file, expirationSeconds } = source.serviceAccountToken as {
          path: string;
          expirationSeconds?: number;
        };
        const account = this.template.spec.serviceAccountName ?? 'default';
        const response = await this.core.createNamespacedServiceAccountToken({
          name: account,
          namespace: this.namespace,
          body: { spec: { audiences: [this.cluster.issuer], expirationSeconds: expirationSeconds ?? 3600 } },
        });
        writeFileSync(path.join(dir, file), response.status!.token);
      } else if (source.configMap) {
        // kube-root-ca.crt: published in every namespace by the controller-manager, which the test cluster lacks.
        const { name, items } = source.configMap as { name: string; items: { key: string; path: string }[] };
        if (name !== 'kube-root-ca.crt') throw new Error(`unsupported projected ConfigMap ${name}`);
        for (const item of items) writeFileSync(path.join(dir, item.path), readFileSync(this.cluster.caFile));
      } else if (source.downwardAPI) {
        const { items } = source.downwardAPI as {
          items: { path: string; fieldRef: { fieldPath: string } }[];
        };
        for (const item of items) {
          if (item.fieldRef.fieldPath !== 'metadata.namespace')
            throw new Error(`unsupported downwardAPI field ${item.fieldRef.fieldPath}`);
          writeFileSync(path.join(dir, item.path), this.namespace);
        }
      } else {
        throw new Error(`unsupported projected source ${JSON.stringify(source)}`);
      }
    }
  }

  /** The Secrets and ConfigMaps of the namespace as the API server holds them right now. */
  private async liveObjects(): Promise<K8sObject[]> {
    const [secrets, configMaps] = await Promise.all([
      this.core.listNamespacedSecret({ namespace: this.namespace }),
      this.core.listNamespacedConfigMap({ namespace: this.namespace }),
    ]);
    return [
      ...secrets.items.map((s) => ({ ...s, kind: 'Secret' }) as unknown as K8sObject),
      ...configMaps.items.map((c) => ({ ...c, kind: 'ConfigMap' }) as unknown as K8sObject),
    ];
  }

  private hostPath(container: Container, value: string): string {
    for (const mount of container.volumeMounts ?? []) {
      if (value === mount.mountPath || value.startsWith(`${mount.mountPath}/`)) {
        if (mount.subPath) throw new Error(`the rehearsal does not support subPath mounts (${mount.name})`);
        return this.volumeDirs.get(mount.name)! + value.slice(mount.mountPath.length);
      }
    }
    return value;
  }

  /** The process the kubelet would start for `container`: argv, environment, port mapping. */
  async processFor(
    container: Container,
    overrides: Record<string, string> = {},
  ): Promise<{ argv: string[]; env: NodeJS.ProcessEnv; ports: Map<number, number> }> {
    const objects = await this.liveObjects();
    const resolved = resolveEnv(container, {
      objects,
      namespace: this.namespace,
      podName: this.podName,
      podSpec: this.template.spec,
      podMetadata: this.template.metadata,
    });
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOSTNAME: this.podName };
    for (const [name, value] of resolved) env[name] = this.routeServices(this.hostPath(container, value));
    const ports = new Map<number, number>();
    for (const port of container.ports ?? []) {
      const host = await freePort();
      ports.set(port.containerPort, host);
      // The app takes its port from PORT; the pod spec must agree with its containerPort.
      if (resolved.get('PORT') === String(port.containerPort)) env.PORT = String(host);
    }
    if (ports.size > 0) env.HOST = '127.0.0.1';
    const tmp = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
    if (tmp) env.TMPDIR = this.volumeDirs.get(tmp.name);
    const token = container.volumeMounts?.find((m) => m.mountPath === TOKEN_MOUNT);
    if (token) env.KUBECONFIG = this.inClusterKubeconfig(this.volumeDirs.get(token.name)!);
    Object.assign(env, overrides);
    const expand = (s: string) => expandReferences(s, resolved);
    const [entry, ...rest] = (container.command ?? []).map(expand);
    if (!entry)
      throw new Error(`container ${container.name} has no command (the image has two entry points)`);
    const binary = entry === 'node' ? [process.execPath] : binaryCommand(entry);
    return { argv: [...binary, ...rest, ...(container.args ?? []).map(expand)], env, ports };
  }

  /** `http://<service>.<namespace>.svc[.cluster.local]:<port>` -> the local port serving that Service. */
  private routeServices(value: string): string {
    return value.replace(
      /\b([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?:(\d+)\b/g,
      (match, name: string, ns: string, port: string) => {
        const local = this.services.get(`${name}.${ns}:${port}`);
        return local === undefined ? match : `127.0.0.1:${local}`;
      },
    );
  }

  /** In-cluster configuration from the mounted token volume, as a kubeconfig (client-node reads fixed paths). */
  private inClusterKubeconfig(dir: string): string {
    const file = path.join(this.workDir, 'in-cluster.kubeconfig');
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'in-cluster',
          cluster: { server: this.cluster.server, 'certificate-authority': path.join(dir, 'ca.crt') },
        },
      ],
      users: [{ name: 'pod', user: { 'token-file': path.join(dir, 'token') } }],
      contexts: [
        {
          name: 'in-cluster',
          context: {
            cluster: 'in-cluster',
            user: 'pod',
            namespace: readFileSync(path.join(dir, 'namespace'), 'utf8'),
          },
        },
      ],
      'current-context': 'in-cluster',
    };
    writeFileSync(file, YAML.stringify(config), { mode: 0o600 });
    return file;
  }

  async start(container: Container, overrides?: Record<string, string>): Promise<RunningContainer> {
    const { argv, env, ports } = await this.processFor(container, overrides);
    const child = spawn(argv[0]!, argv.slice(1), {
      env,
      cwd: this.workDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<ProcessResult>((resolve) => {
      child.once('error', (error) =>
        resolve({ code: -1, signal: null, output: `${output}\n${error.message}` }),
      );
      child.once('close', (code, signal) => resolve({ code, signal, output }));
    });
    const running = { name: container.name, child, output: () => output, exited, ports };
    this.running.push(running);
    return running;
  }

  /** Runs a container to completion (init containers, Job pods); kills it after `timeoutMs`. */
  async run(container: Container, timeoutMs: number): Promise<ProcessResult> {
    const running = await this.start(container);
    const timer = setTimeout(() => running.child.kill('SIGKILL'), timeoutMs);
    try {
      return await running.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The file a container sees at `containerPath`, on the host. */
  pathOf(container: Container, containerPath: string): string {
    return this.hostPath(container, containerPath);
  }

  async stop(): Promise<void> {
    for (const { child, exited } of this.running) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      }
    }
    for (const volume of this.configMapVolumes) await volume.stop();
    rmSync(this.workDir, { recursive: true, force: true });
  }
}

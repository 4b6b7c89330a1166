// One scenario's world on the shared e2e node: a namespace, a database on the node's PostgreSQL, a model source,
// the Services pods reach them through, helm and kubectl pointed at the node, and what they left to clean up.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import * as k8s from '@kubernetes/client-node';
import pg from 'pg';
import YAML from 'yaml';
import { repoRoot } from '../../support/tools';
import {
  chartDir,
  expectSuccess,
  helmEnv,
  kustomizeBaseDir,
  run,
  type CommandResult,
} from '../../support/k8s/commands';
import { tempDir } from '../../support/temp.mjs';
import { relayConnect } from './relay-client.mjs';
import {
  ask,
  core,
  describeE2E,
  discovery,
  e2eNode,
  IMAGE,
  kubeConfig,
  spawnInNode,
  stopChild,
  uniqueName,
  until,
} from './node';

export { chartDir, kustomizeBaseDir };
/** The additive migration of the upgrade image (test/e2e/fixtures, added by scripts/image/e2e-images.sh). */
export const UPGRADE_MIGRATION = '29991231000000_e2e_upgrade_marker.js';
export const ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdef0123456789';
/** The label selector of the server pods of the release `mg` every scenario installs. */
export const SERVER = 'app.kubernetes.io/instance=mg,app.kubernetes.io/component=server';

const fixture = JSON.parse(
  fs.readFileSync(path.join(repoRoot, 'test/fixtures/morpheus/minimal.json'), 'utf8'),
) as { models: Record<string, unknown>[] };
/** The model list the sources serve first (2 models), and a refreshed one (3 models). */
export const MODELS = fixture;
export const MORE_MODELS = {
  models: [
    ...fixture.models,
    {
      ...fixture.models[0],
      Id: `0x${'3'.repeat(64)}`,
      Name: 'qwen3-235b',
      Tags: ['Qwen'],
      CreatedAt: 1746000000,
    },
  ],
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- /status, SQL rows and the like, read loosely by tests
export type LooseJson = any;

/** An HTTP GET to `<ip>:<port>` inside the node's namespace (a pod, the service host), through the relay. */
export function nodeGet(target: string, urlPath: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string; json: () => LooseJson }>((resolve, reject) => {
    const [host, port] = target.split(':');
    const req = http.request(
      {
        host,
        port,
        path: urlPath,
        headers,
        timeout: 5_000,
        createConnection: () => relayConnect(e2eNode().relaySocket, target),
      },
      (res) =>
        text(res).then(
          (body) => resolve({ status: res.statusCode ?? 0, body, json: () => JSON.parse(body) }),
          reject,
        ),
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${target}${urlPath}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

/** A POST with a JSON body to `<ip>:<port>` inside the namespace. */
export function nodePost(
  target: string,
  urlPath: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return new Promise<{ status: number; json: () => LooseJson }>((resolve, reject) => {
    const [host, port] = target.split(':');
    const payload = JSON.stringify(body);
    const req = http.request(
      {
        host,
        port,
        method: 'POST',
        path: urlPath,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
        timeout: 10_000,
        createConnection: () => relayConnect(e2eNode().relaySocket, target),
      },
      (res) =>
        text(res).then(
          (body) => resolve({ status: res.statusCode ?? 0, json: () => JSON.parse(body) }),
          reject,
        ),
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** The model source process (source-server.mjs) inside the namespace, and the Service in front of it. */
export class ModelSource {
  constructor(
    readonly child: ChildProcess,
    /** What pods use: http://<service>.<namespace>.svc.cluster.local:<port>/active_models.json */
    readonly url: string,
  ) {}

  serve(doc: unknown) {
    return ask(this.child, { serve: doc });
  }
  delay(ms: number) {
    return ask(this.child, { delayMs: ms });
  }
  failWith(status: number) {
    return ask(this.child, { failWith: status });
  }
  async requests(): Promise<number> {
    return (await ask<{ requests: number }>(this.child, { requests: true })).requests;
  }
}

export interface LoadSummary {
  sent: number;
  ok: number;
  failed: number;
  statuses: Record<string, number>;
  errors: Record<string, number>;
  firstFailures: string[];
  /** For a load through the release's Service (startModelsLoad): the fewest ready endpoints it had meanwhile. */
  minReadyEndpoints?: number;
  /** What the cluster showed while a load through the Service ran, filled in only when a request failed. */
  cluster?: { readyEndpoints: string[]; warnings: string[] };
}

/**
 * No request of the load failed; when some did, the assertion shows the first ones (when, and the error or status)
 * and, for a load through a Service, how its ready endpoints changed and the namespace's warning events.
 */
export function expectNoFailedRequests(summary: LoadSummary): void {
  const { failed, firstFailures, cluster } = summary;
  expect({ failed, firstFailures, ...(failed > 0 && cluster ? { cluster } : {}) }).toEqual({
    failed: 0,
    firstFailures: [],
  });
}

/** Steady load (load.mjs) from inside the namespace; `stop()` ends it and says how it went. */
export async function startLoad(options: {
  url: string;
  headers?: Record<string, string>;
  rate?: number;
  maxSeconds?: number;
}): Promise<{ stop: () => Promise<LoadSummary> }> {
  const { child } = await spawnInNode('load.mjs', [JSON.stringify({ maxSeconds: 300, ...options })]);
  let early: LoadSummary | undefined;
  child.once('message', (summary) => (early = summary as LoadSummary));
  return {
    stop: async () => {
      if (early) return early;
      const summary = await ask<LoadSummary>(child, 'stop');
      await stopChild(child);
      return summary;
    },
  };
}

/** The addresses of an EndpointSlice's ready endpoints. */
function readyAddresses(slice: k8s.V1EndpointSlice): string[] {
  return (slice.endpoints ?? []).filter((e) => e.conditions?.ready).flatMap((e) => e.addresses);
}

export class Scenario {
  private readonly cleanups: (() => Promise<unknown>)[] = [];
  constructor(
    readonly namespace: string,
    readonly tools: Record<string, string>,
  ) {}

  /** A scenario in a new namespace `<prefix>-<6 hex>`; cleanup() removes it and all it made. */
  static async create(prefix: string, tools: Record<string, string>): Promise<Scenario> {
    const scenario = new Scenario(uniqueName(prefix), tools);
    await scenario.start();
    return scenario;
  }

  /** Creates the namespace and waits until pods can run in it. */
  async start(): Promise<void> {
    const namespace = this.namespace;
    await core().createNamespace({ body: { metadata: { name: namespace } } });
    // Namespaces are deleted for real (the namespace controller runs): their pods stop and free the node.
    this.cleanups.push(() => core().deleteNamespace({ name: namespace }));
    // The controller-manager makes the default ServiceAccount and kube-root-ca.crt; pods need the ConfigMap.
    await until(`kube-root-ca.crt in ${namespace}`, async () =>
      (await core()
        .readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace })
        .catch(() => undefined))
        ? true
        : undefined,
    );
  }

  onCleanup(step: () => Promise<unknown>): void {
    this.cleanups.push(step);
  }

  async cleanup(): Promise<void> {
    for (const step of this.cleanups.reverse()) await step().catch(() => undefined);
  }

  /**
   * A Service without selector whose EndpointSlice names the service host (what stands outside the cluster); pods
   * reach `<name>.<namespace>.svc.cluster.local:<port>`.
   */
  async externalService(name: string, port: number): Promise<string> {
    const namespace = this.namespace;
    await core().createNamespacedService({
      namespace,
      body: {
        metadata: { name },
        spec: { ports: [{ name: 'tcp', port, targetPort: port, protocol: 'TCP' }] },
      },
    });
    await discovery().createNamespacedEndpointSlice({
      namespace,
      body: {
        metadata: { name, labels: { 'kubernetes.io/service-name': name } },
        addressType: 'IPv4',
        endpoints: [{ addresses: [e2eNode().net.serviceHostIp], conditions: { ready: true } }],
        ports: [{ name: 'tcp', port, protocol: 'TCP' }],
      },
    });
    return `${name}.${namespace}.svc.${e2eNode().net.clusterDomain}`;
  }

  /** A database of its own on the node's PostgreSQL, behind the Service `postgres`. */
  async database(): Promise<{
    podUrl: string;
    query: <R = LooseJson>(sql: string, params?: unknown[]) => Promise<R[]>;
    /** How often the upgrade image's migration ran (its marker table's rows) and is recorded as applied by knex. */
    upgradeMigrationRuns: () => Promise<{ ran: number; recorded: number }>;
  }> {
    const node = e2eNode();
    if (!node.postgres) throw new Error('the e2e node runs without PostgreSQL');
    const name = this.namespace.replaceAll('-', '_');
    const admin = new pg.Client({ connectionString: node.postgres.hostUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const host = await this.externalService('postgres', 5432);
    const hostUrl = new URL(node.postgres.hostUrl);
    hostUrl.pathname = `/${name}`;
    const pool = new pg.Pool({ connectionString: hostUrl.toString(), max: 2 });
    this.cleanups.push(async () => {
      await pool.end();
      const drop = new pg.Client({ connectionString: node.postgres!.hostUrl });
      await drop.connect();
      await drop.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await drop.end();
    });
    const query = async <R = LooseJson>(sql: string, params?: unknown[]): Promise<R[]> =>
      (await pool.query(sql, params)).rows;
    return {
      podUrl: `postgres://postgres:postgres@${host}:5432/${name}`,
      query,
      upgradeMigrationRuns: async () => {
        const [marker] = await query<{ runs: number }>(
          'SELECT count(*)::int AS runs FROM e2e_upgrade_marker',
        );
        const [recorded] = await query<{ runs: number }>(
          'SELECT count(*)::int AS runs FROM knex_migrations WHERE name = $1',
          [UPGRADE_MIGRATION],
        );
        return { ran: marker!.runs, recorded: recorded!.runs };
      },
    };
  }

  /** A model source in the namespace serving `doc`, behind the Service `models`. */
  async modelSource(doc: unknown = MODELS, name = 'models'): Promise<ModelSource> {
    const { child, first } = await spawnInNode('source-server.mjs', [e2eNode().net.serviceHostIp, '0']);
    this.cleanups.push(() => stopChild(child));
    const port = Number(JSON.parse(first).port);
    const host = await this.externalService(name, port);
    const source = new ModelSource(child, `http://${host}:${port}/active_models.json`);
    await source.serve(doc);
    return source;
  }

  /**
   * A database and a model source (serving MODELS) of the scenario's own, and the chart values (e2eValues) that
   * point the release at them.
   */
  async chartValues(options: Omit<Parameters<typeof e2eValues>[0], 'databaseUrl' | 'sourceUrl'> = {}) {
    const db = await this.database();
    const source = await this.modelSource(MODELS);
    const values = e2eValues({ databaseUrl: db.podUrl, sourceUrl: source.url, ...options });
    return { db, source, values };
  }

  /** `helm install` or `helm upgrade` of the release `mg` of the chart with `values`; fails the test if helm does. */
  async release(
    verb: 'install' | 'upgrade',
    values: Record<string, unknown>,
    flags: string[] = [],
  ): Promise<CommandResult> {
    return expectSuccess(
      `helm ${verb}`,
      await this.helm([verb, 'mg', chartDir, '--values', this.valuesFile(values), ...flags]),
    );
  }

  /**
   * Steady load (20/s unless told) on GET /v1/models through the release's Service, with a new API key (made
   * through a server pod that is not terminating).
   */
  async startModelsLoad(rate = 20): Promise<{ stop: () => Promise<LoadSummary> }> {
    const svc = await this.service('mg-modelgate');
    const pod = (await this.pods(SERVER)).find((p) => p.status?.podIP && !p.metadata?.deletionTimestamp);
    if (!pod) throw new Error(`no running server pod in ${this.namespace} to make an API key through`);
    const key = await this.apiKey(pod.status!.podIP!);
    await this.serviceAnswers(svc);
    const endpoints = await this.followReadyEndpoints('mg-modelgate');
    const load = await startLoad({
      url: `http://${svc}/v1/models`,
      headers: { authorization: `Bearer ${key}` },
      rate,
    }).catch(async (error: unknown) => {
      await endpoints.stop();
      throw error;
    });
    return {
      stop: async () => {
        const summary = await load.stop();
        const { events, minReady } = await endpoints.stop();
        summary.minReadyEndpoints = minReady;
        if (summary.failed > 0) summary.cluster = { readyEndpoints: events, warnings: await this.warnings() };
        return summary;
      },
    };
  }

  /**
   * Waits until `<ClusterIP>:<port>` answers /livez from inside the node's namespace. `helm install --wait` returns
   * once the pods are ready and the EndpointSlice says so, but kube-proxy writes its rules at most once per
   * minSyncPeriod (1 s), and until it has it rejects connections to the Service as to one without endpoints (a load
   * started at once saw its first 350 ms refused: ICMP port unreachable from the node, the slice listing three
   * ready pods).
   */
  async serviceAnswers(svc: string): Promise<void> {
    await until(
      `the Service ${svc} to answer (kube-proxy to have programmed its endpoints)`,
      async () => ((await nodeGet(svc, '/livez').catch(() => undefined))?.status === 200 ? true : undefined),
      60_000,
      100,
    );
  }

  /**
   * Follows a Service's ready endpoints until stop(): its EndpointSlices listed, then watched from that version (a
   * watch, not polling, so a slice emptied or replaced for a moment shows). stop() returns every change as `<time>
   * <event> <slice>: <ready addresses or none>` and the fewest ready endpoints the Service had meanwhile (as far as
   * the watch saw: one that ended early says so among the events).
   */
  async followReadyEndpoints(
    service: string,
  ): Promise<{ stop: () => Promise<{ events: string[]; minReady: number }> }> {
    const labelSelector = `kubernetes.io/service-name=${service}`;
    const readyOf = (slice: k8s.V1EndpointSlice) => readyAddresses(slice).sort();
    const list = await discovery().listNamespacedEndpointSlice({ namespace: this.namespace, labelSelector });
    const ready = new Map(list.items.map((slice) => [slice.metadata!.name!, readyOf(slice)]));
    const total = () => [...ready.values()].flat().length;
    const events: string[] = [];
    const record = (what: string, addresses: string[]) =>
      events.push(`${new Date().toISOString()} ${what}: ${addresses.join(',') || 'none'}`);
    record('listed', [...ready.values()].flat().sort());
    let minReady = total();
    const watching = new k8s.Watch(kubeConfig())
      .watch(
        `/apis/discovery.k8s.io/v1/namespaces/${this.namespace}/endpointslices`,
        { labelSelector, resourceVersion: list.metadata?.resourceVersion },
        (type, slice: k8s.V1EndpointSlice) => {
          const name = slice.metadata?.name ?? '?';
          if (type === 'DELETED') ready.delete(name);
          else if (type === 'ADDED' || type === 'MODIFIED') ready.set(name, readyOf(slice));
          minReady = Math.min(minReady, total());
          record(`${type} ${name}`, readyOf(slice));
        },
        (error: unknown) => {
          if (error && (error as Error).name !== 'AbortError') record(`watch ended (${String(error)})`, []);
        },
      )
      .catch((error: unknown) => {
        // What the events say; a watch that could not start must not fail the scenario it only describes.
        record(`watch failed (${String(error)})`, []);
        return undefined;
      });
    return {
      stop: async () => {
        (await watching)?.abort();
        return { events, minReady };
      },
    };
  }

  /** The namespace's Warning events, oldest first, as `<time> <kind>/<name> <reason>: <message>`. */
  async warnings(): Promise<string[]> {
    const events = await core().listNamespacedEvent({
      namespace: this.namespace,
      fieldSelector: 'type=Warning',
    });
    const at = (e: k8s.CoreV1Event) =>
      new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0).toISOString();
    return events.items
      .map(
        (e) =>
          `${at(e)} ${e.involvedObject.kind}/${e.involvedObject.name} ${e.reason}: ${e.message} (x${e.count ?? 1})`,
      )
      .sort();
  }

  helm(args: string[], timeoutMs = 600_000): Promise<CommandResult> {
    return run(
      this.tools.helm!,
      [...args, '--namespace', this.namespace, '--kubeconfig', e2eNode().kubeconfig],
      {
        env: helmEnv(),
        timeoutMs,
      },
    );
  }

  kubectl(args: string[], timeoutMs = 300_000): Promise<CommandResult> {
    return run(
      this.tools.kubectl!,
      ['--kubeconfig', e2eNode().kubeconfig, '--namespace', this.namespace, ...args],
      {
        timeoutMs,
      },
    );
  }

  /** Writes chart values for this scenario (the e2e defaults, then `values`) and returns the file. */
  valuesFile(values: Record<string, unknown>): string {
    const file = path.join(scratch(), `${uniqueName('values')}.yaml`);
    fs.writeFileSync(file, YAML.stringify(values));
    return file;
  }

  /** The pods of a label selector. */
  async pods(selector: string): Promise<k8s.V1Pod[]> {
    return (await core().listNamespacedPod({ namespace: this.namespace, labelSelector: selector })).items;
  }

  /** `<ClusterIP>:<port>` of a Service (its first port): what clients in the cluster's network connect to. */
  async service(name: string): Promise<string> {
    const svc = await core().readNamespacedService({ name, namespace: this.namespace });
    return `${svc.spec!.clusterIP}:${svc.spec!.ports![0]!.port}`;
  }

  /** The ready endpoints of a Service's EndpointSlices. */
  async readyEndpoints(service: string): Promise<string[]> {
    const slices = await discovery().listNamespacedEndpointSlice({
      namespace: this.namespace,
      labelSelector: `kubernetes.io/service-name=${service}`,
    });
    return slices.items.flatMap(readyAddresses);
  }

  /** /status of every running pod of the selector, read from the pod's IP. */
  async statuses(selector: string, port = 8080): Promise<{ pod: string; status: number; body: LooseJson }[]> {
    const pods = (await this.pods(selector)).filter((p) => p.status?.podIP && !p.metadata?.deletionTimestamp);
    return Promise.all(
      pods.map(async (p) => {
        const res = await nodeGet(`${p.status!.podIP}:${port}`, '/status').catch(() => ({
          status: 0,
          body: '',
        }));
        let body: unknown;
        try {
          body = JSON.parse(res.body);
        } catch {
          body = undefined;
        }
        return { pod: p.metadata!.name!, status: res.status, body };
      }),
    );
  }

  /** Creates a user and its first key through a pod's admin route; returns the key. */
  async apiKey(podIp: string): Promise<string> {
    const res = await nodePost(
      `${podIp}:8080`,
      '/v1/admin/users',
      { name: uniqueName('e2e-user') },
      { authorization: `Bearer ${ADMIN_TOKEN}` },
    );
    if (res.status !== 201) throw new Error(`POST /v1/admin/users answered ${res.status}`);
    return res.json().key.key as string;
  }
}

let scratchDir: string | undefined;
function scratch(): string {
  scratchDir ??= tempDir('e2e');
  return scratchDir;
}

/**
 * describeE2E for a scenario with one Scenario (namespace `<prefix>-<6 hex>`): started before the first test, cleaned
 * up after the last.
 */
export function describeScenario(title: string, prefix: string, body: (s: Scenario) => void): void {
  describeE2E(title, (tools) => {
    const scenario = new Scenario(uniqueName(prefix), tools);
    beforeAll(() => scenario.start());
    afterAll(() => scenario.cleanup());
    body(scenario);
  });
}

/** The chart values `values` with the upgrade image's tag (one more migration: UPGRADE_MIGRATION). */
export function upgradeValues(values: Record<string, unknown>): Record<string, unknown> {
  return { ...values, image: { ...(values.image as object), tag: IMAGE.upgradeTag } };
}

/**
 * Chart values every scenario starts from: the node's image (never pulled), short probe periods and drain times so
 * rollouts take seconds, the admin routes on (a test creates API keys through them), the refresh CronJob off.
 */
export function e2eValues(options: {
  databaseUrl: string;
  sourceUrl: string;
  replicas?: number;
  tag?: string;
  extra?: Record<string, unknown>;
}): Record<string, unknown> {
  return deepMerge(
    {
      image: { repository: IMAGE.repository, tag: options.tag ?? IMAGE.tag, pullPolicy: 'Never' },
      replicaCount: options.replicas ?? 1,
      config: {
        modelSource: { url: options.sourceUrl, timeout: '5s', retries: 1 },
        shutdownDelay: '2s',
        shutdownTimeout: '10s',
      },
      secrets: { databaseUrl: options.databaseUrl, adminToken: ADMIN_TOKEN },
      probes: {
        startup: { periodSeconds: 1, timeoutSeconds: 2, failureThreshold: 120 },
        liveness: { periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3 },
        readiness: { periodSeconds: 1, timeoutSeconds: 2, failureThreshold: 2, successThreshold: 1 },
      },
      preStopSleepSeconds: 3,
      terminationGracePeriodSeconds: 20,
      refresh: { enabled: false },
      // The node's CPU is two cores shared by every scenario's pods.
      resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '512Mi' } },
      init: { resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '256Mi' } } },
    },
    options.extra ?? {},
  );
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const current = out[key];
    out[key] =
      value && typeof value === 'object' && !Array.isArray(value) && current && typeof current === 'object'
        ? deepMerge(current as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}

export { kubeConfig };

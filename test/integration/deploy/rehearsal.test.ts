// Pod rehearsal: the rendered pods of the chart (both init modes) and of the kustomize base run as local processes,
// with the pod spec's commands, environment,
// volumes and probes (test/support/deploy/kubelet.ts plays the kubelet, probes.ts beside it its prober). The Kubernetes API is a
// real kube-apiserver + etcd (the k8s harness' supervisor), so the init ServiceAccount's RBAC, the bound token and
// the ConfigMap sink are the real thing; PostgreSQL is the test database; the model source is a local HTTP server.
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import YAML from 'yaml';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { getJson } from '../../support/http';
import { eventually } from '../../support/wait';
import { describeWithTools, repoRoot } from '../../support/tools';
import { UpstreamServer } from '../../support/api/upstream-server';
import { appPod } from '../../support/deploy/identity';
import { ClusterAccess, RehearsalPod, type RunningContainer } from '../../support/deploy/kubelet';
import { podTemplates, type Container } from '../../support/deploy/pod-env';
import { httpProbe, ProbeRunner } from '../../support/deploy/probes';
import {
  chartDir,
  helm as runHelm,
  helmTemplate,
  kustomizeBuild,
  kustomizeDir,
  one,
  scenarioFile,
  type K8sObject,
} from '../../support/deploy/render';
import { tempDir } from '../../support/temp.mjs';

// The k8s harness' CommonJS global setup starts (and supervises) a real etcd + kube-apiserver.
const { startControlPlane } = require('../../support/k8s/global-setup.js') as {
  startControlPlane(
    parentPid: number,
  ): Promise<{ supervisor: import('node:child_process').ChildProcess; info: Record<string, string> }>;
};

jest.setTimeout(300_000);

const fixture = JSON.parse(
  readFileSync(path.join(repoRoot, 'test/fixtures/morpheus/minimal.json'), 'utf8'),
) as {
  models: Record<string, unknown>[];
};
const extraModel = {
  ...fixture.models[0],
  Id: `0x${'3'.repeat(64)}`,
  Name: 'qwen3-235b',
  Tags: ['Qwen'],
  CreatedAt: 1746000000,
};

/** The model source: serves one morpheus document with an ETag, answering 304 to a matching If-None-Match. */
class SourceServer {
  private body = '';
  private etag = '';
  requests = 0;
  private readonly server = http.createServer((req, res) => {
    this.requests++;
    if (req.url !== '/active_models.json') return void res.writeHead(404).end();
    if (req.headers['if-none-match'] === this.etag) return void res.writeHead(304, { etag: this.etag }).end();
    res.writeHead(200, { 'content-type': 'application/json', etag: this.etag }).end(this.body);
  });

  serve(doc: unknown): void {
    this.body = JSON.stringify(doc);
    this.etag = `"${createHash('sha256').update(this.body).digest('hex').slice(0, 16)}"`;
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}/active_models.json`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const hookOf = (o: K8sObject) => o.metadata.annotations?.['helm.sh/hook'];
const weightOf = (o: K8sObject) => Number(o.metadata.annotations?.['helm.sh/hook-weight'] ?? 0);

/** JSON (or the text of /metrics) from the app on `port`. */
const appJson = (port: number, pathName: string) =>
  getJson(`http://127.0.0.1:${port}${pathName}`, { signal: AbortSignal.timeout(5_000) });

/** Polls every 200 ms: each check of a rehearsal pod is a real HTTP round trip. */
const until = <T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string) =>
  eventually(check, timeoutMs, what, 200);

/** A usage ledger row as the app writes it. */
function usageRow(at: Date) {
  return {
    id: randomUUID(),
    request_id: 'rehearsal',
    key_id: randomUUID(),
    user_id: randomUUID(),
    kind: 'chat',
    model: 'm',
    status: 200,
    prompt_tokens: 1,
    completion_tokens: 1,
    estimated: false,
    duration_ms: 1,
    created_at: at,
  };
}

describeWithTools(
  'pod rehearsal of the chart and the kustomize base',
  ['helm', 'kustomize', 'kube-apiserver', 'etcd'],
  ({ helm, kustomize }) => {
    let supervisor: import('node:child_process').ChildProcess | undefined;
    let cluster: ClusterAccess;
    let adminKubeconfig: string;
    const source = new SourceServer();
    let sourceUrl: string;
    const cleanups: (() => Promise<void>)[] = [];

    beforeAll(async () => {
      const started = await startControlPlane(process.pid);
      supervisor = started.supervisor;
      const admin = new k8s.KubeConfig();
      adminKubeconfig = started.info.kubeconfig!;
      admin.loadFromFile(adminKubeconfig);
      cluster = {
        admin,
        server: started.info.server!,
        caFile: started.info.caFile!,
        issuer: started.info.issuer!,
      };
      sourceUrl = await source.listen();
    });

    afterAll(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      await source.close();
      if (supervisor && supervisor.exitCode === null) {
        const exited = new Promise((resolve) => supervisor!.once('exit', resolve));
        supervisor.kill('SIGTERM');
        await exited;
      }
    });

    async function namespace(prefix: string): Promise<string> {
      const name = `${prefix}-${Math.random().toString(16).slice(2, 8)}`;
      await cluster.admin.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name } } });
      return name;
    }

    async function apply(objects: readonly K8sObject[], ns: string): Promise<void> {
      const client = k8s.KubernetesObjectApi.makeApiClient(cluster.admin);
      for (const o of objects) {
        await client.create({ ...o, metadata: { ...o.metadata, namespace: ns } } as k8s.KubernetesObject);
      }
    }

    async function database(label: string): Promise<TestDatabase> {
      const db = await createTestDatabase(label);
      cleanups.push(() => db.drop());
      return db;
    }

    function pod(
      ns: string,
      owner: string,
      podName: string,
      objects: K8sObject[],
      services?: ReadonlyMap<string, number>,
    ): RehearsalPod {
      const template = podTemplates(objects).find((t) => t.ref === owner);
      if (!template) throw new Error(`no pod template ${owner}`);
      const p = new RehearsalPod(cluster, ns, template, podName, services);
      cleanups.push(() => p.stop());
      return p;
    }

    /** Init containers one after the other (each must exit 0), then the app with the kubelet's probes. */
    async function startPod(p: RehearsalPod) {
      await p.prepareVolumes();
      for (const init of p.template.spec.initContainers ?? []) {
        const result = await p.run(init, 120_000);
        expect({
          container: init.name,
          code: result.code,
          output: result.code === 0 ? '' : result.output,
        }).toEqual({
          container: init.name,
          code: 0,
          output: '',
        });
      }
      const appContainer = p.template.spec.containers.find((c) => c.command?.[0] === 'modelgate-app')!;
      const app = await p.start(appContainer);
      const probes = new ProbeRunner(appContainer, app.ports);
      cleanups.push(() => probes.stop());
      probes.start();
      const budget = ProbeRunner.startupBudgetMs(appContainer.startupProbe);
      expect(budget).toBeGreaterThan(0);
      let readyAt: number;
      try {
        readyAt = await probes.untilReady(budget);
      } catch (error) {
        throw new Error(`${(error as Error).message}\napp output:\n${app.output()}`, { cause: error });
      }
      expect(readyAt).toBeLessThanOrEqual(budget);
      return { app, appContainer, probes, port: app.ports.get(appContainer.ports![0]!.containerPort)! };
    }

    /** The CronJob whose pod runs `modelgate-init <command>`. */
    function cronJobRunning(objects: K8sObject[], command: string): K8sObject {
      const found = podTemplates(objects).filter(
        (t) => t.owner.kind === 'CronJob' && t.spec.containers[0]?.args?.[0] === command,
      );
      if (found.length !== 1)
        throw new Error(`expected one CronJob running ${command}, found ${found.length}`);
      return found[0]!.owner;
    }

    /** The usage retention CronJob's pod, as rendered: no token, only the database; old rows go, recent ones stay. */
    async function expectUsagePruned(db: TestDatabase, ns: string, objects: K8sObject[]): Promise<void> {
      const oldRow = usageRow(new Date(Date.now() - 91 * 86_400_000));
      const recentRow = usageRow(new Date());
      await db.db('usage_records').insert([oldRow, recentRow]);
      const prune = cronJobRunning(objects, 'prune-usage');
      const pruner = pod(
        ns,
        `CronJob/${prune.metadata.name}`,
        `${prune.metadata.name}-29000000-fghij`,
        objects,
      );
      await pruner.prepareVolumes();
      const pruneContainer = pruner.template.spec.containers[0]!;
      const pruned = await pruner.run(pruneContainer, 60_000);
      expect({ code: pruned.code, output: pruned.code === 0 ? '' : pruned.output }).toEqual({
        code: 0,
        output: '',
      });
      expect((await pruner.processFor(pruneContainer)).env.KUBECONFIG).toBeUndefined();
      expect((await db.db('usage_records').select('id')).map((r: { id: string }) => r.id)).toEqual([
        recentRow.id,
      ]);
    }

    /** The CronJob's pod: `modelgate-init refresh`, with its own volumes and token. */
    async function runRefresh(ns: string, objects: K8sObject[]): Promise<void> {
      const cron = cronJobRunning(objects, 'refresh');
      const refresh = pod(
        ns,
        `CronJob/${cron.metadata.name}`,
        `${cron.metadata.name}-29000000-abcde`,
        objects,
      );
      await refresh.prepareVolumes();
      const [container] = refresh.template.spec.containers as [Container];
      const result = await refresh.run(container, 120_000);
      expect({ code: result.code, output: result.code === 0 ? '' : result.output }).toEqual({
        code: 0,
        output: '',
      });
    }

    /** After the refresh the running app serves the new catalog without a restart and never failed a probe. */
    async function expectHotReload(app: RunningContainer, port: number, probes: ProbeRunner, before: string) {
      const reloaded = await until(
        async () => {
          const { body } = await appJson(port, '/status');
          return body.models?.sha256 !== before ? body : undefined;
        },
        30_000,
        `the app to load the refreshed artifact (output:\n${app.output()})`,
      );
      expect(reloaded.models.count).toBe(3);
      expect(reloaded.ready).toBe(true);
      expect(app.child.exitCode).toBeNull();
      expect(probes.killedBecause).toBeUndefined();
      expect(probes.ready).toBe(true);
      expect(probes.events.filter((e) => e.probe === 'liveness' && !e.ok)).toEqual([]);
    }

    /**
     * The pod's app is ready after `modelgate-init <command>` with the fixture's catalog; a refresh that adds a model
     * hot-reloads it, and the usage prune CronJob prunes.
     */
    async function expectServingThenRefreshed(
      db: TestDatabase,
      ns: string,
      objects: K8sObject[],
      { app, port, probes }: Awaited<ReturnType<typeof startPod>>,
      command: string,
    ): Promise<void> {
      const status = (await appJson(port, '/status')).body;
      expect(status).toMatchObject({ ready: true, models: { count: 2 }, init: { command, exitCode: 0 } });
      source.serve({ models: [...fixture.models, extraModel] });
      await runRefresh(ns, objects);
      await expectHotReload(app, port, probes, status.models.sha256);
      await expectUsagePruned(db, ns, objects);
    }

    /**
     * Termination as the kubelet does it: the preStop sleep (the pod is already out of the endpoints), then SIGTERM;
     * the app must answer /readyz 503 while it drains and exit 0 within terminationGracePeriodSeconds, which counts
     * from the start of preStop.
     */
    async function terminate(
      p: RehearsalPod,
      app: RunningContainer,
      container: Container,
      port: number,
      probes: ProbeRunner,
    ) {
      await probes.stop();
      const graceMs = (p.template.spec.terminationGracePeriodSeconds ?? 30) * 1000;
      const start = Date.now();
      await new Promise((resolve) =>
        setTimeout(resolve, (container.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000),
      );
      expect((await httpProbe(port, '/readyz', 2_000)).ok).toBe(true);
      app.child.kill('SIGTERM');
      await until(
        async () => ((await httpProbe(port, '/readyz', 1_000)).detail === 'HTTP 503' ? true : undefined),
        5_000,
        '/readyz to answer 503 while draining',
      );
      const timer = setTimeout(() => app.child.kill('SIGKILL'), Math.max(0, graceMs - (Date.now() - start)));
      const result = await app.exited;
      clearTimeout(timer);
      expect({ code: result.code, signal: result.signal }).toEqual({ code: 0, signal: null });
    }

    it('initContainer mode: `all`, then the app is ready within its startup budget; a refresh hot-reloads', async () => {
      source.serve(fixture);
      const db = await database('rehearsal_init');
      const ns = await namespace('rehearsal');
      const objects = await helmTemplate(helm, {
        valuesFiles: [scenarioFile('default')],
        namespace: ns,
        set: { 'secrets.databaseUrl': db.url, 'config.modelSource.url': sourceUrl },
      });
      await apply(
        objects.filter((o) => hookOf(o) === undefined),
        ns,
      );
      const deployment = one(objects, 'Deployment');
      const web = pod(
        ns,
        `Deployment/${deployment.metadata.name}`,
        `${deployment.metadata.name}-7d9f8-abcde`,
        objects,
      );
      const started = await startPod(web);
      const { app, appContainer, port, probes } = started;
      // The app container holds no credential for the API: no token volume, hence no KUBECONFIG.
      expect((await web.processFor(appContainer)).env.KUBECONFIG).toBeUndefined();

      // init wrote the ConfigMap through the API with the init ServiceAccount's token
      const cm = await cluster.admin
        .makeApiClient(k8s.CoreV1Api)
        .readNamespacedConfigMap({ name: `${deployment.metadata.name}-models`, namespace: ns });
      expect(Object.keys({ ...cm.data, ...cm.binaryData })).toEqual([
        expect.stringMatching(/^models\.json(\.gz)?$/),
      ]);
      await expectServingThenRefreshed(db, ns, objects, started, 'all');

      // The metrics the PrometheusRule and the dashboard query are exported by the running app.
      const monitoring = await helmTemplate(helm, { valuesFiles: [scenarioFile('monitoring')] });
      const queried = new Set<string>();
      const rule = JSON.stringify(one(monitoring, 'PrometheusRule').spec);
      const dashboard = (
        one(monitoring, 'ConfigMap', 'mg-modelgate-dashboard').data as Record<string, string>
      )['modelgate.json']!;
      for (const text of [rule, dashboard]) {
        for (const [name] of text.matchAll(/\b(?:modelgate_[a-z_]+|http_request_duration_seconds[a-z_]*)\b/g))
          queried.add(name.replace(/_(bucket|count|sum)$/, ''));
      }
      const metrics = String((await appJson(port, '/metrics')).body);
      const exported = new Set([...metrics.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!));
      expect([...queried].filter((name) => !exported.has(name))).toEqual([]);
      expect(queried.size).toBeGreaterThan(5);

      // `helm test`: the test pod reaches /readyz through the Service (port -> targetPort -> the app's port).
      const service = one(objects, 'Service');
      const servicePort = (service.spec as { ports: { port: number; targetPort: string }[] }).ports[0]!;
      const target = appContainer.ports!.find((p) => p.name === servicePort.targetPort)!;
      const routes = new Map([
        [`${service.metadata.name}.${ns}:${servicePort.port}`, app.ports.get(target.containerPort)!],
      ]);
      const testPod = one(objects, 'Pod');
      const tester = pod(ns, `Pod/${testPod.metadata.name}`, testPod.metadata.name, objects, routes);
      await tester.prepareVolumes();
      const tested = await tester.run(tester.template.spec.containers[0]!, 30_000);
      expect({ code: tested.code, output: tested.output }).toEqual({
        code: 0,
        output: expect.stringContaining(' 200 '),
      });

      await terminate(web, app, appContainer, port, probes);
    });

    it('job mode: the hook Job runs `all` with only hook objects present, pods `wait`, a refresh hot-reloads', async () => {
      source.serve(fixture);
      const db = await database('rehearsal_job');
      const ns = await namespace('rehearsal-job');
      const objects = await helmTemplate(helm, {
        valuesFiles: [scenarioFile('job-mode')],
        namespace: ns,
        set: { 'secrets.databaseUrl': db.url, 'config.modelSource.url': sourceUrl },
      });
      // helm install: pre-install hooks by weight, each hook Job run to completion; then the release's objects.
      const hooks = objects
        .filter((o) => hookOf(o)?.split(',').includes('pre-install'))
        .sort((a, b) => weightOf(a) - weightOf(b));
      for (const hook of hooks) {
        if (hook.kind !== 'Job') {
          await apply([hook], ns);
          continue;
        }
        const job = pod(ns, `Job/${hook.metadata.name}`, `${hook.metadata.name}-x7k2p`, objects);
        await job.prepareVolumes();
        const [container] = job.template.spec.containers as [Container];
        expect(container.args).toEqual(['all']);
        const result = await job.run(
          container,
          (hook.spec as { activeDeadlineSeconds: number }).activeDeadlineSeconds * 1000,
        );
        expect({ code: result.code, output: result.code === 0 ? '' : result.output }).toEqual({
          code: 0,
          output: '',
        });
      }
      await apply(
        objects.filter((o) => hookOf(o) === undefined),
        ns,
      );

      const web = pod(ns, appPod(objects).ref, 'mg-modelgate-5c6d7-fghij', objects);
      expect(web.template.spec.initContainers?.map((c) => c.args)).toEqual([['wait']]);
      await expectServingThenRefreshed(db, ns, objects, await startPod(web), 'wait');
    });

    it.each([
      ['default', 'kubectl -n notes logs deployment/mg-modelgate -c init-all'],
      ['job-mode', 'kubectl -n notes logs job/mg-modelgate-init'],
    ])('NOTES.txt (%s) tells how to reach the service and check readiness', async (scenario, logs) => {
      const result = await runHelm(helm, [
        'install',
        'mg',
        chartDir,
        '--namespace',
        'notes',
        '--values',
        scenarioFile(scenario),
        '--dry-run=client',
        '--kubeconfig',
        adminKubeconfig,
      ]);
      expect(result.stderr).toBe('');
      const notes = result.stdout.slice(result.stdout.indexOf('NOTES:'));
      expect(notes).toContain('kubectl -n notes rollout status deployment/mg-modelgate');
      expect(notes).toContain(logs);
      expect(notes).toContain('kubectl -n notes port-forward svc/mg-modelgate 8080:80');
      expect(notes).toContain('curl -s http://127.0.0.1:8080/readyz');
      expect(notes).toContain('http://mg-modelgate.notes.svc:80/v1');
      expect(notes).toContain('helm test mg -n notes');
    });

    it('routing: the mounted routing file is served, a ConfigMap update hot-reloads, an invalid one is refused', async () => {
      source.serve(fixture);
      const db = await database('rehearsal_routing');
      const ns = await namespace('rehearsal-routing');
      const a = await new UpstreamServer('a').start();
      const b = await new UpstreamServer('b').start();
      cleanups.push(
        () => a.close(),
        () => b.close(),
      );
      const adminToken = 'rehearsal-admin-token-0123456789abcdef012';
      const routingFile = (target: string) => ({
        upstreams: { a: { url: a.url, apiKeyEnv: 'A_API_KEY' }, b: { url: b.url } },
        routes: [{ targets: [{ upstream: target, model: 'name' }] }],
      });
      const dir = tempDir('routing-values');
      cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
      const valuesFile = path.join(dir, 'values.yaml');
      writeFileSync(
        valuesFile,
        YAML.stringify({
          routing: { file: routingFile('a') },
          secrets: {
            databaseUrl: db.url,
            adminToken,
            upstreamApiKeys: { A_API_KEY: 'a-upstream-key-0123456789' },
          },
          config: { modelSource: { url: sourceUrl } },
        }),
      );
      const objects = await helmTemplate(helm, {
        valuesFiles: [scenarioFile('default'), valuesFile],
        namespace: ns,
      });
      await apply(
        objects.filter((o) => hookOf(o) === undefined),
        ns,
      );
      const deployment = one(objects, 'Deployment');
      const web = pod(
        ns,
        `Deployment/${deployment.metadata.name}`,
        `${deployment.metadata.name}-5c7d8-routg`,
        objects,
      );
      const { app, port, probes } = await startPod(web);
      const base = `http://127.0.0.1:${port}`;
      const created = await fetch(`${base}/api/v1/admin/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'rehearsal' }),
      });
      const key = ((await created.json()) as { key: { key: string } }).key.key;
      const ask = async () => {
        const res = await fetch(`${base}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'mistral-31-24b', messages: [{ role: 'user', content: 'hi' }] }),
        });
        const body = (await res.json()) as { model?: string };
        return { status: res.status, upstream: res.headers.get('x-modelgate-upstream'), model: body.model };
      };
      expect(await ask()).toEqual({ status: 200, upstream: 'a', model: 'mistral-31-24b' });
      expect(a.requests.at(-1)!.headers.authorization).toBe('Bearer a-upstream-key-0123456789');

      // An update of the ConfigMap through the API server reaches the running pod without a restart.
      const core = cluster.admin.makeApiClient(k8s.CoreV1Api);
      const name = `${deployment.metadata.name}-routing`;
      const update = (text: string) =>
        core.patchNamespacedConfigMap(
          { name, namespace: ns, body: { data: { 'routing.yaml': text } } },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
        );
      await update(YAML.stringify(routingFile('b')));
      await until(async () => ((await ask()).upstream === 'b' ? true : undefined), 30_000, 'the new routing');
      await update('upstreams: {}\nroutes: []\n');
      const refused = await until(
        async () => {
          const { body } = await appJson(port, '/status');
          return body.api.routing.file.valid === false ? body.api.routing.file : undefined;
        },
        30_000,
        'the invalid routing file to be refused',
      );
      expect(refused.problems).toContain('ROUTING_FILE upstreams: must define at least one upstream');
      expect(await ask()).toEqual({ status: 200, upstream: 'b', model: 'mistral-31-24b' });
      expect(app.child.exitCode).toBeNull();
      expect(probes.killedBecause).toBeUndefined();
      expect(probes.events.filter((e) => e.probe === 'liveness' && !e.ok)).toEqual([]);
      expect(probes.ready).toBe(true);
    });

    it('kustomize base: `all`, ready within the startup budget, and a refresh hot-reloads', async () => {
      source.serve(fixture);
      const db = await database('rehearsal_kustomize');
      const ns = await namespace('rehearsal-kustomize');
      const overlay = tempDir('overlay');
      cleanups.push(async () => rmSync(overlay, { recursive: true, force: true }));
      writeFileSync(path.join(overlay, 'secret.env'), `DATABASE_URL=${db.url}\n`);
      writeFileSync(
        path.join(overlay, 'kustomization.yaml'),
        YAML.stringify({
          apiVersion: 'kustomize.config.k8s.io/v1beta1',
          kind: 'Kustomization',
          namespace: ns,
          resources: [path.relative(overlay, kustomizeDir)],
          configMapGenerator: [
            { name: 'modelgate-env', behavior: 'merge', literals: [`MODEL_SOURCE_URL=${sourceUrl}`] },
          ],
          secretGenerator: [{ name: 'modelgate', behavior: 'replace', envs: ['secret.env'] }],
        }),
      );
      const objects = await kustomizeBuild(kustomize, overlay);
      await apply(objects, ns);
      const web = pod(ns, 'Deployment/modelgate', 'modelgate-6b8c9-klmno', objects);
      await expectServingThenRefreshed(db, ns, objects, await startPod(web), 'all');
    });
  },
);

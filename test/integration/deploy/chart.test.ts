import fs from 'node:fs';
import YAML from 'yaml';
import { parseRoutingText } from '../../../app/api/routing/routing-source';
import { describeWithTools } from '../../support/tools';
import {
  artifactProblems,
  configMapProblems,
  probeProblems,
  rbacProblems,
  securityProblems,
  tokenProblems,
} from '../../support/deploy/checks';
import { runInitCli } from '../../support/deploy/cli';
import { appPod, identityOf, initInvocations } from '../../support/deploy/identity';
import { validateK8s, schemaProblems } from '../../support/deploy/k8s-schema';
import {
  allContainers,
  objectData,
  podTemplates,
  resolveEnv,
  type Container,
} from '../../support/deploy/pod-env';
import {
  byKind,
  chartDir,
  ciScenarios,
  helm,
  helmTemplate,
  one,
  scenarioFile,
  templateArgs,
  type K8sObject,
} from '../../support/deploy/render';

// helm, kustomize and node child processes on a shared 2-core machine: generous, not a performance bound.
jest.setTimeout(60_000);

const NAMESPACE = 'prod';
const RELEASE = 'mg';

const envOf = (objects: K8sObject[], container: Container) =>
  resolveEnv(container, { objects, namespace: NAMESPACE, podName: 'p', podSpec: appPod(objects).spec });

const annotations = (o: K8sObject) => o.metadata.annotations ?? {};

describeWithTools('helm chart helm/modelgate', ['helm'], ({ helm: helmPath }) => {
  const render = (name: string, set?: Record<string, string>) =>
    helmTemplate(helmPath, {
      valuesFiles: [scenarioFile(name)],
      namespace: NAMESPACE,
      releaseName: RELEASE,
      set,
    });

  it('has the CI scenarios the issue asks for', () => {
    expect(ciScenarios()).toEqual([
      'autoscaling',
      'default',
      'existing-secret',
      'job-mode',
      'minimal',
      'monitoring',
      'routing',
    ]);
  });

  describe.each(ciScenarios())('scenario %s', (scenario) => {
    let objects: K8sObject[];
    beforeAll(async () => {
      objects = await render(scenario);
    });

    it('passes helm lint --strict', async () => {
      const result = await helm(helmPath, ['lint', '--strict', chartDir, '--values', scenarioFile(scenario)]);
      expect(result.stderr + result.stdout).toContain('0 chart(s) failed');
      expect(result.code).toBe(0);
    });

    it('renders only objects that are valid Kubernetes objects, unknown fields included', async () => {
      expect(objects.length).toBeGreaterThan(5);
      expect(schemaProblems(await validateK8s(objects))).toEqual([]);
    });

    it('runs every container non-root, read-only, without capabilities, with seccomp RuntimeDefault', () => {
      expect(podTemplates(objects).length).toBeGreaterThan(0);
      expect(securityProblems(objects)).toEqual([]);
    });

    it('lets the init ServiceAccount get, update and patch the models ConfigMap and nothing else', () => {
      expect(rbacProblems(objects, identityOf(objects))).toEqual([]);
    });

    it('projects a ServiceAccount token into modelgate-init containers only', () => {
      expect(tokenProblems(objects, identityOf(objects))).toEqual([]);
      const app = appPod(objects).spec.containers.find((c) => c.name === 'app')!;
      expect(app.volumeMounts?.map((m) => m.mountPath)).not.toContain(
        '/var/run/secrets/kubernetes.io/serviceaccount',
      );
    });

    it('names one models ConfigMap in the ConfigMap, Role, volumes and MODELS_CONFIGMAP', () => {
      const id = identityOf(objects);
      expect(id.configMapName).toBe(`${RELEASE}-modelgate-models`);
      expect(configMapProblems(objects, id, NAMESPACE)).toEqual([]);
    });

    it('probes /livez and /readyz on the named port the app listens on, with a preStop delay', () => {
      expect(probeProblems(appPod(objects), objects, NAMESPACE)).toEqual([]);
    });

    it('hands the artifact from init to app through one emptyDir', () => {
      expect(artifactProblems(appPod(objects), objects, NAMESPACE)).toEqual([]);
    });

    it('runs only modelgate-init commands and options the CLI knows', async () => {
      const invocations = initInvocations(objects);
      expect(invocations.length).toBeGreaterThan(0);
      for (const args of invocations) {
        const result = await runInitCli([...args, '--help']);
        expect({ args, code: result.code }).toEqual({ args, code: 0 });
        expect(result.stdout).toContain(`Usage: modelgate-init ${args[0]}`);
      }
    });
  });

  describe('default scenario', () => {
    let objects: K8sObject[];
    beforeAll(async () => {
      objects = await render('default');
    });

    it('runs `modelgate-init all` in every pod and no hook Job', () => {
      const pod = appPod(objects);
      expect(pod.spec.initContainers?.map((c) => [c.command, c.args])).toEqual([
        [['modelgate-init'], ['all']],
      ]);
      expect(byKind(objects, 'Job')).toEqual([]);
      expect(one(objects, 'Deployment').spec).toMatchObject({ replicas: 2 });
    });

    it('cleans up usage with a CronJob that has no Kubernetes rights and only the database', () => {
      const cron = one(objects, 'CronJob', 'mg-modelgate-prune-usage');
      expect(cron.spec).toMatchObject({ concurrencyPolicy: 'Forbid', schedule: '23 3 * * *' });
      const [template] = podTemplates([cron]);
      const [container] = template!.spec.containers;
      expect([container!.command, container!.args]).toEqual([['modelgate-init'], ['prune-usage']]);
      expect(template!.spec.serviceAccountName).toBe(identityOf(objects).unprivilegedServiceAccount);
      expect(template!.spec.automountServiceAccountToken).toBe(false);
      expect(template!.spec.volumes?.map((v) => Object.keys(v).sort())).toEqual([['emptyDir', 'name']]);
      const env = envOf(objects, container!);
      expect([env.get('USAGE_RETENTION'), env.get('USAGE_PRUNE_BATCH'), env.get('MODEL_SOURCE_URL')]).toEqual(
        ['90d', '5000', undefined],
      );
    });

    it('refreshes with a CronJob that never overlaps', () => {
      const cron = one(objects, 'CronJob', 'mg-modelgate-refresh');
      expect(cron.spec).toMatchObject({ concurrencyPolicy: 'Forbid' });
      const [container] = podTemplates([cron])[0]!.spec.containers;
      expect([container!.command, container!.args]).toEqual([['modelgate-init'], ['refresh']]);
    });

    it('exposes a named http port through the Service and renders a PDB and a NetworkPolicy', () => {
      const service = one(objects, 'Service');
      expect(service.spec).toMatchObject({ ports: [{ name: 'http', targetPort: 'http' }] });
      const podLabels = appPod(objects).metadata.labels!;
      for (const [key, value] of Object.entries(
        (service.spec as { selector: Record<string, string> }).selector,
      ))
        expect(podLabels[key]).toBe(value);
      expect(one(objects, 'PodDisruptionBudget').spec).toMatchObject({ maxUnavailable: 1 });
      expect(one(objects, 'NetworkPolicy').spec).toMatchObject({
        policyTypes: ['Ingress'],
        ingress: [{ ports: [{ port: 'http' }] }],
      });
      expect(byKind(objects, 'HorizontalPodAutoscaler')).toEqual([]);
    });

    it('spreads pods over nodes and zones without blocking scheduling', () => {
      const spread = appPod(objects).spec.topologySpreadConstraints as {
        topologyKey: string;
        whenUnsatisfiable: string;
      }[];
      expect(spread.map((s) => [s.topologyKey, s.whenUnsatisfiable])).toEqual([
        ['kubernetes.io/hostname', 'ScheduleAnyway'],
        ['topology.kubernetes.io/zone', 'ScheduleAnyway'],
      ]);
    });

    it('puts what the init container needs one Argo CD sync-wave before the workloads', () => {
      const id = identityOf(objects);
      const needed = [
        ['ServiceAccount', id.initServiceAccount],
        ['Role', `${RELEASE}-modelgate-init`],
        ['RoleBinding', `${RELEASE}-modelgate-init`],
        ['ConfigMap', id.configMapName],
        ['Secret', `${RELEASE}-modelgate`],
      ];
      for (const [kind, name] of needed)
        expect([kind, annotations(one(objects, kind!, name))['argocd.argoproj.io/sync-wave']]).toEqual([
          kind,
          '-1',
        ]);
      expect(annotations(one(objects, 'Deployment'))['argocd.argoproj.io/sync-wave']).toBeUndefined();
      expect(objects.filter((o) => annotations(o)['helm.sh/hook'] && o.kind !== 'Pod')).toEqual([]);
    });

    it('pre-creates the models ConfigMap empty and keeps it on uninstall', () => {
      const cm = one(objects, 'ConfigMap', `${RELEASE}-modelgate-models`);
      expect(cm.data).toBeUndefined();
      expect(annotations(cm)['helm.sh/resource-policy']).toBe('keep');
    });

    it('tags the image with the appVersion and labels objects the app.kubernetes.io way', () => {
      const app = appPod(objects).spec.containers[0]!;
      expect(app.image).toBe('ghcr.io/modelgate/modelgate:0.1.0');
      for (const o of objects) {
        expect(o.metadata.labels).toMatchObject({
          'app.kubernetes.io/name': 'modelgate',
          'app.kubernetes.io/instance': RELEASE,
          'app.kubernetes.io/managed-by': 'Helm',
          'helm.sh/chart': 'modelgate-0.1.0',
        });
      }
    });

    it('has a helm test pod that checks /readyz through the Service', () => {
      const test = one(objects, 'Pod');
      expect(annotations(test)['helm.sh/hook']).toBe('test');
      const container = (test.spec as { containers: Container[] }).containers[0]!;
      const url = container.env?.find((e) => e.name === 'TARGET_URL')?.value;
      expect(url).toBe(`http://${RELEASE}-modelgate.${NAMESPACE}.svc:80/readyz`);
      expect((test.spec as { serviceAccountName: string }).serviceAccountName).toBe(
        identityOf(objects).unprivilegedServiceAccount,
      );
    });
  });

  describe('job-mode scenario', () => {
    let objects: K8sObject[];
    beforeAll(async () => {
      objects = await render('job-mode');
    });
    const weight = (o: K8sObject) => Number(annotations(o)['helm.sh/hook-weight'] ?? 0);

    it('runs `all` in a pre-install,pre-upgrade hook Job below helm timeout, and `wait` in the pods', () => {
      const job = one(objects, 'Job');
      expect(annotations(job)).toMatchObject({
        'helm.sh/hook': 'pre-install,pre-upgrade',
        'helm.sh/hook-delete-policy': 'before-hook-creation',
        'argocd.argoproj.io/hook': 'PreSync',
        'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation',
      });
      const spec = job.spec as { activeDeadlineSeconds: number };
      expect(spec.activeDeadlineSeconds).toBeLessThan(300);
      expect(podTemplates([job])[0]!.spec.containers.map((c) => c.args)).toEqual([['all']]);
      expect(appPod(objects).spec.initContainers?.map((c) => c.args)).toEqual([['wait']]);
    });

    it('makes every object the hook Job needs a pre-install hook with a lower weight (and Argo CD wave)', () => {
      const job = one(objects, 'Job');
      const pod = podTemplates([job])[0]!;
      const needed = new Set<string>([`ServiceAccount/${pod.spec.serviceAccountName}`]);
      const id = identityOf(objects);
      needed.add(`ConfigMap/${id.configMapName}`);
      for (const c of allContainers(pod.spec)) {
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef;
          if (ref) needed.add(`${e.valueFrom?.secretKeyRef ? 'Secret' : 'ConfigMap'}/${ref.name}`);
        }
      }
      for (const o of [...byKind(objects, 'Role'), ...byKind(objects, 'RoleBinding')])
        needed.add(`${o.kind}/${o.metadata.name}`);
      expect(needed.size).toBeGreaterThanOrEqual(5);
      for (const ref of needed) {
        const o = objects.find((x) => `${x.kind}/${x.metadata.name}` === ref);
        expect({ ref, found: Boolean(o) }).toEqual({ ref, found: true });
        const hooks = (annotations(o!)['helm.sh/hook'] ?? '').split(',');
        expect({ ref, preInstall: hooks.includes('pre-install') }).toEqual({ ref, preInstall: true });
        expect({ ref, before: weight(o!) < weight(job) }).toEqual({ ref, before: true });
        expect(Number(annotations(o!)['argocd.argoproj.io/sync-wave'])).toBeLessThan(
          Number(annotations(job)['argocd.argoproj.io/sync-wave']),
        );
      }
      // The RoleBinding must exist before anything uses it: weights order SA/Secret < Role/RoleBinding < ConfigMap.
      expect(weight(one(objects, 'RoleBinding'))).toBeGreaterThanOrEqual(
        weight(one(objects, 'ServiceAccount', id.initServiceAccount)),
      );
    });

    it('creates the models ConfigMap once (pre-install only), so upgrades keep the last-known-good artifact', () => {
      const cm = one(objects, 'ConfigMap', identityOf(objects).configMapName);
      expect(annotations(cm)['helm.sh/hook']).toBe('pre-install');
      expect(annotations(cm)['helm.sh/hook-delete-policy']).toBeUndefined();
      expect(annotations(cm)).toMatchObject({
        'meta.helm.sh/release-name': RELEASE,
        'meta.helm.sh/release-namespace': NAMESPACE,
      });
    });
  });

  describe('monitoring scenario', () => {
    let objects: K8sObject[];
    beforeAll(async () => {
      objects = await render('monitoring');
    });

    it('renders a ServiceMonitor with the configured labels that scrapes /metrics on the Service port', () => {
      const monitor = one(objects, 'ServiceMonitor');
      expect(monitor.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
      expect(monitor.spec).toMatchObject({
        endpoints: [{ port: 'http', path: '/metrics' }],
        namespaceSelector: { matchNames: [NAMESPACE] },
      });
      const service = one(objects, 'Service');
      const selector = (monitor.spec as { selector: { matchLabels: Record<string, string> } }).selector
        .matchLabels;
      for (const [key, value] of Object.entries(selector)) expect(service.metadata.labels?.[key]).toBe(value);
    });

    it('alerts on a stale artifact, failing init, pods not ready, a high 5xx rate, open breakers, a bad routing file and an unreachable database', () => {
      const rule = one(objects, 'PrometheusRule');
      expect(rule.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
      const alerts = (rule.spec as { groups: { rules: { alert: string }[] }[] }).groups.flatMap(
        (g) => g.rules,
      );
      expect(alerts.map((a) => a.alert).sort()).toEqual([
        'ModelgateArtifactStale',
        'ModelgateDatabaseUnreachable',
        'ModelgateHigh5xxRate',
        'ModelgateInitFailing',
        'ModelgatePodsNotReady',
        'ModelgateRoutingFileInvalid',
        'ModelgateUpstreamBreakerOpen',
      ]);
    });

    it('ships a Grafana dashboard ConfigMap with the sidecar label and valid JSON', () => {
      const dashboard = one(objects, 'ConfigMap', `${RELEASE}-modelgate-dashboard`);
      expect(dashboard.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
      const json = JSON.parse((dashboard.data as Record<string, string>)['modelgate.json']!) as {
        panels: unknown[];
      };
      expect(json.panels.length).toBeGreaterThan(5);
    });
  });

  describe('routing scenario', () => {
    let objects: K8sObject[];
    let values: {
      routing: { file: unknown; mountPath: string };
      secrets: { upstreamApiKeys: Record<string, string> };
    };
    beforeAll(async () => {
      objects = await render('routing');
      values = YAML.parse(fs.readFileSync(scenarioFile('routing'), 'utf8')) as typeof values;
      const defaults = YAML.parse(fs.readFileSync(`${chartDir}/values.yaml`, 'utf8')) as typeof values;
      values.routing.mountPath ??= defaults.routing.mountPath;
    });

    it('renders the routing file into a ConfigMap that the app validates as it will at start', () => {
      const cm = one(objects, 'ConfigMap', `${RELEASE}-modelgate-routing`);
      const text = (cm.data as Record<string, string>)['routing.yaml']!;
      expect(YAML.parse(text)).toEqual(values.routing.file);
      const parsed = parseRoutingText(
        text,
        '/etc/modelgate/routing/routing.yaml',
        values.secrets.upstreamApiKeys,
      );
      expect(parsed.ok ? [] : parsed.problems).toEqual([]);
    });

    it('mounts it whole (no subPath, so updates arrive) and points ROUTING_FILE at it, without UPSTREAM_URL', () => {
      const pod = appPod(objects);
      const app = pod.spec.containers.find((c) => c.name === 'app')!;
      const volume = pod.spec.volumes!.find((v) => v.configMap?.name === `${RELEASE}-modelgate-routing`)!;
      const mount = app.volumeMounts!.find((m) => m.name === volume.name)!;
      expect(mount).toEqual({ name: volume.name, mountPath: values.routing.mountPath, readOnly: true });
      const env = envOf(objects, app);
      expect(env.get('ROUTING_FILE')).toBe(`${values.routing.mountPath}/routing.yaml`);
      expect(env.has('UPSTREAM_URL')).toBe(false);
      // Every container but the app's lacks it.
      for (const c of pod.spec.initContainers ?? [])
        expect(envOf(objects, c).has('ROUTING_FILE')).toBe(false);
    });

    it("gives each distinct apiKeyEnv its variable from the Secret's key of that name", () => {
      const app = appPod(objects).spec.containers.find((c) => c.name === 'app')!;
      const refs = (app.env ?? [])
        .filter((e) => e.name.endsWith('_API_KEY') && e.name !== 'UPSTREAM_API_KEY')
        .map((e) => [e.name, e.valueFrom?.secretKeyRef?.key, e.valueFrom?.secretKeyRef?.optional]);
      expect(refs).toEqual([
        ['BACKUP_API_KEY', 'BACKUP_API_KEY', true],
        ['PRIMARY_API_KEY', 'PRIMARY_API_KEY', true],
      ]);
      const env = envOf(objects, app);
      expect(env.get('PRIMARY_API_KEY')).toBe(values.secrets.upstreamApiKeys.PRIMARY_API_KEY);
      expect(env.get('BACKUP_API_KEY')).toBe(values.secrets.upstreamApiKeys.BACKUP_API_KEY);
    });

    it('puts no checksum of the routing ConfigMap on the pods: they hot-reload it instead of rolling', async () => {
      const annotationsOf = async (set: Record<string, string>) =>
        appPod(await render('routing', set)).metadata.annotations ?? {};
      const before = await annotationsOf({});
      const after = await annotationsOf({ 'routing.file.settings.deadline': '90s' });
      expect(after).toEqual(before);
      expect(Object.keys(before).filter((k) => /routing/i.test(k))).toEqual([]);
    });

    it('reads the keys from routing.apiKeysSecret when one is named', async () => {
      const own = await render('routing', { 'routing.apiKeysSecret': 'llm-keys' });
      const app = appPod(own).spec.containers.find((c) => c.name === 'app')!;
      expect(app.env!.find((e) => e.name === 'PRIMARY_API_KEY')!.valueFrom!.secretKeyRef!.name).toBe(
        'llm-keys',
      );
    });
  });

  describe('autoscaling scenario', () => {
    it('hands the replica count to a HorizontalPodAutoscaler', async () => {
      const objects = await render('autoscaling');
      const hpa = one(objects, 'HorizontalPodAutoscaler');
      expect(hpa.spec).toMatchObject({
        minReplicas: 3,
        maxReplicas: 12,
        scaleTargetRef: { kind: 'Deployment', name: one(objects, 'Deployment').metadata.name },
      });
      expect(one(objects, 'Deployment').spec).not.toHaveProperty('replicas');
    });
  });

  describe('existing-secret scenario', () => {
    let objects: K8sObject[];
    beforeAll(async () => {
      objects = await render('existing-secret');
    });

    it('renders no Secret and reads every secret variable from the existing Secret by its keys', () => {
      expect(byKind(objects, 'Secret')).toEqual([]);
      const refs = podTemplates(objects)
        .flatMap((t) => allContainers(t.spec))
        .flatMap((c) => c.env ?? [])
        .filter((e) => e.valueFrom?.secretKeyRef)
        .map((e) => [e.name, e.valueFrom!.secretKeyRef!.name, e.valueFrom!.secretKeyRef!.key]);
      expect(new Set(refs.map((r) => JSON.stringify(r)))).toEqual(
        new Set(
          [
            ['DATABASE_URL', 'modelgate-credentials', 'pooler-url'],
            ['MIGRATION_DATABASE_URL', 'modelgate-credentials', 'direct-url'],
            ['ADMIN_TOKEN', 'modelgate-credentials', 'admin-token'],
            ['UPSTREAM_API_KEY', 'modelgate-credentials', 'upstream-key'],
          ].map((r) => JSON.stringify(r)),
        ),
      );
    });

    it('pulls the image by digest and passes extraEnv to init and app', () => {
      const pod = appPod(objects);
      for (const c of allContainers(pod.spec)) {
        expect(c.image).toBe(
          'ghcr.io/modelgate/modelgate@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
        );
        expect(c.env?.find((e) => e.name === 'DEFAULT_MODEL')?.value).toBe('mistral-31-24b');
      }
    });
  });

  describe('minimal scenario', () => {
    it('renders only what a pod needs', async () => {
      const objects = await render('minimal');
      const kinds = objects.map((o) => o.kind).sort();
      expect(kinds).toEqual([
        'ConfigMap',
        'Deployment',
        'Role',
        'RoleBinding',
        'Secret',
        'Service',
        'ServiceAccount',
        'ServiceAccount',
      ]);
      expect(appPod(objects).spec.topologySpreadConstraints).toBeUndefined();
      expect(envOf(objects, appPod(objects).spec.initContainers![0]!).get('MODEL_SOURCE_URL')).toBe(
        'file:///etc/modelgate/source/models.json',
      );
    });
  });

  describe('renamed values', () => {
    it('puts each renamed value where its name says', async () => {
      const objects = await render('job-mode', {
        'init.job.podWaitTimeout': '7m',
        'config.database.connectRetryTimeout': '90s',
        'artifact.configMap.name': 'shared-models',
        'artifact.configMap.mountPath': '/etc/shared-models',
        'artifact.emptyDir.path': '/var/run/artifact',
        'artifact.emptyDir.sizeLimit': '64Mi',
        'serviceAccount.unprivileged.name': 'no-rights',
        'serviceAccount.unprivileged.annotations.example\\.com/owner': 'platform',
      });
      const pod = appPod(objects);
      const init = envOf(objects, pod.spec.initContainers![0]!);
      const app = envOf(
        objects,
        pod.spec.containers.find((c) => c.name === 'app')!,
      );
      expect(init.get('WAIT_TIMEOUT')).toBe('7m');
      expect(init.get('DB_WAIT_TIMEOUT')).toBe('90s');
      expect(init.get('MODELS_CONFIGMAP')).toBe(`${NAMESPACE}/shared-models`);
      expect(identityOf(objects).configMapName).toBe('shared-models');
      expect(app.get('MODELS_CONFIGMAP_DIR')).toBe('/etc/shared-models');
      expect(app.get('MODELS_FILE')).toBe('/var/run/artifact/models.json');
      const artifactVolume = pod.spec.volumes!.find((v) => v.name === 'artifact')!;
      expect(artifactVolume.emptyDir).toEqual({ sizeLimit: '64Mi' });
      const sa = one(objects, 'ServiceAccount', 'no-rights');
      expect(sa.metadata.annotations).toEqual({ 'example.com/owner': 'platform' });
      expect(identityOf(objects).unprivilegedServiceAccount).toBe('no-rights');
    });

    it('fails on the old names and says what each is called now', async () => {
      const result = await helm(
        helmPath,
        templateArgs({
          valuesFiles: [scenarioFile('default')],
          set: {
            'config.waitTimeout': '5m',
            'config.database.waitTimeout': '1s',
            'models.artifactDir': '/x',
            'serviceAccount.app.name': 'a',
          },
        }),
      );
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('config.waitTimeout -> init.job.podWaitTimeout');
      expect(result.stderr).toContain('config.database.waitTimeout -> config.database.connectRetryTimeout');
      expect(result.stderr).toContain('models.artifactDir -> artifact.emptyDir.path');
      expect(result.stderr).toContain('serviceAccount.app -> serviceAccount.unprivileged');
    });
  });

  describe('a model source URL with a password or token', () => {
    const secretUrl =
      'https://reader:source-pw-77e1@models.example.com/active_models.json?token=source-tok-9c2d';

    it('comes from the Secret and appears in no other rendered object', async () => {
      const objects = await render('default', {
        'config.modelSource.url': '',
        'secrets.modelSourceUrl': secretUrl,
      });
      const secret = one(objects, 'Secret');
      expect(Object.values(objectData(secret))).toContain(secretUrl);
      const initContainers = podTemplates(objects).flatMap((t) =>
        allContainers(t.spec).filter((c) => (c.env ?? []).some((e) => e.name === 'MODEL_SOURCE_URL')),
      );
      expect(initContainers.length).toBeGreaterThan(0);
      for (const container of initContainers) {
        expect(container.env!.find((e) => e.name === 'MODEL_SOURCE_URL')).toEqual({
          name: 'MODEL_SOURCE_URL',
          valueFrom: { secretKeyRef: { name: secret.metadata.name, key: 'MODEL_SOURCE_URL' } },
        });
        expect(envOf(objects, container).get('MODEL_SOURCE_URL')).toBe(secretUrl);
      }
      for (const object of objects.filter((o) => o !== secret))
        expect(JSON.stringify(object)).not.toMatch(/source-pw-77e1|source-tok-9c2d/);
    });

    it('comes from an existing Secret by its key when config.modelSource.url is empty', async () => {
      const objects = await render('existing-secret', {
        'config.modelSource.url': '',
        'secrets.keys.modelSourceUrl': 'source-url',
      });
      const refs = podTemplates(objects)
        .flatMap((t) => allContainers(t.spec))
        .flatMap((c) => c.env ?? [])
        .filter((e) => e.name === 'MODEL_SOURCE_URL')
        .map((e) => e.valueFrom?.secretKeyRef);
      expect(refs.length).toBeGreaterThan(0);
      expect(new Set(refs.map((r) => JSON.stringify(r)))).toEqual(
        new Set([JSON.stringify({ name: 'modelgate-credentials', key: 'source-url' })]),
      );
    });

    it('is refused in both places at once', async () => {
      const result = await helm(
        helmPath,
        templateArgs({
          valuesFiles: [scenarioFile('default')],
          set: { 'secrets.modelSourceUrl': secretUrl },
        }),
      );
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/set config.modelSource.url or secrets.modelSourceUrl, not both/);
    });
  });

  describe('values.schema.json', () => {
    const rejects = async (set: Record<string, string>, message: RegExp) => {
      const result = await helm(helmPath, [...templateArgs({ valuesFiles: [scenarioFile('default')], set })]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(message);
    };

    it('rejects a misspelled top-level key', async () => {
      await rejects({ replicaCont: '3' }, /additional properties 'replicaCont' not allowed/);
    });

    it('rejects a misspelled nested key', async () => {
      await rejects({ 'config.modelSource.ulr': 'https://x' }, /additional properties 'ulr' not allowed/);
    });

    it('rejects wrong types and values', async () => {
      await rejects({ replicaCount: 'two' }, /replicaCount/);
      await rejects({ 'init.mode': 'jobs' }, /init\/mode/);
      await rejects({ 'image.digest': 'latest' }, /image\/digest/);
      await rejects({ 'config.models.maxStale': 'a week' }, /maxStale/);
    });

    it('accepts what the values.yaml documents', async () => {
      const result = await helm(helmPath, templateArgs({ valuesFiles: [scenarioFile('default')] }));
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
    });

    it('rejects a malformed routing file (its schema comes from the app) and routing.file beside config.upstream.url', async () => {
      await rejects(
        { 'routing.file.upstreams.a.url': 'http://x', 'routing.file.upstreams.a.timeout': '30' },
        /routing\/file/,
      );
      await rejects({ 'routing.file.upstreams.a.ulr': 'http://x' }, /routing\/file/);
      const both = await helm(helmPath, [
        ...templateArgs({
          valuesFiles: [scenarioFile('routing')],
          set: { 'config.upstream.url': 'http://upstream' },
        }),
      ]);
      expect(both.stderr).toMatch(/routing.file and config.upstream.url are both set/);
    });

    it('requires the database URL unless an existing Secret is named, and the model source URL', async () => {
      const noDb = await helm(helmPath, templateArgs({ set: { 'config.modelSource.url': 'https://x' } }));
      expect(noDb.stderr).toMatch(/secrets.databaseUrl is required unless secrets.existingSecret/);
      const noSource = await helm(
        helmPath,
        templateArgs({ set: { 'secrets.databaseUrl': 'postgres://a@b/c' } }),
      );
      expect(noSource.stderr).toMatch(/config.modelSource.url is required/);
    });
  });
});

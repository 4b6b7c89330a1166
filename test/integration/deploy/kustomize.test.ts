import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { parseRoutingText } from '../../../app/api/routing/routing-source';
import { describeWithTools, repoRoot } from '../../support/tools';
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
import { schemaProblems, validateK8s } from '../../support/deploy/k8s-schema';
import { objectData, podTemplates, resolveEnv } from '../../support/deploy/pod-env';
import { kustomizeBuild, kustomizeDir, one, type K8sObject } from '../../support/deploy/render';
import { tempDir } from '../../support/temp.mjs';

// helm, kustomize and node child processes on a shared 2-core machine: generous, not a performance bound.
jest.setTimeout(60_000);

describeWithTools('kustomize base k8s/', ['kustomize'], ({ kustomize }) => {
  let objects: K8sObject[];
  beforeAll(async () => {
    objects = await kustomizeBuild(kustomize);
  });

  it('renders the whole base in the modelgate namespace', () => {
    expect(
      objects.map((o) => `${o.kind}/${o.metadata.name.replace(/-[a-z0-9]{10}$/, '-<hash>')}`).sort(),
    ).toEqual([
      'ConfigMap/modelgate-env-<hash>',
      'ConfigMap/modelgate-models',
      'ConfigMap/modelgate-routing',
      'CronJob/modelgate-prune-usage',
      'CronJob/modelgate-refresh',
      'Deployment/modelgate',
      'HorizontalPodAutoscaler/modelgate',
      'NetworkPolicy/modelgate',
      'PodDisruptionBudget/modelgate',
      'Role/modelgate-init',
      'RoleBinding/modelgate-init',
      'Secret/modelgate',
      'Service/modelgate',
      'ServiceAccount/modelgate',
      'ServiceAccount/modelgate-init',
    ]);
    for (const o of objects) expect(o.metadata.namespace).toBe('modelgate');
  });

  it('is valid against the Kubernetes schemas, unknown fields included', async () => {
    expect(schemaProblems(await validateK8s(objects))).toEqual([]);
  });

  it('runs every container non-root, read-only, without capabilities, with seccomp RuntimeDefault', () => {
    expect(securityProblems(objects)).toEqual([]);
  });

  it('gives the init ServiceAccount get/update/patch on the models ConfigMap only, the app none and no token', () => {
    const id = identityOf(objects);
    expect(id).toEqual({
      configMapName: 'modelgate-models',
      initServiceAccount: 'modelgate-init',
      unprivilegedServiceAccount: 'modelgate',
    });
    expect(rbacProblems(objects, id)).toEqual([]);
    expect(tokenProblems(objects, id)).toEqual([]);
  });

  it('agrees on the models ConfigMap, probes, artifact volume and init commands', async () => {
    const id = identityOf(objects);
    expect(configMapProblems(objects, id, 'modelgate')).toEqual([]);
    expect(probeProblems(appPod(objects), objects, 'modelgate')).toEqual([]);
    expect(artifactProblems(appPod(objects), objects, 'modelgate')).toEqual([]);
    const invocations = initInvocations(objects);
    expect(invocations).toEqual([['all'], ['prune-usage'], ['refresh']]);
    for (const args of invocations) expect((await runInitCli([...args, '--help'])).code).toBe(0);
  });

  it('cleans up usage with a CronJob that has no Kubernetes rights and only the database', () => {
    const cron = one(objects, 'CronJob', 'modelgate-prune-usage');
    expect(cron.spec).toMatchObject({ concurrencyPolicy: 'Forbid' });
    const [template] = podTemplates([cron]);
    expect(template!.spec.serviceAccountName).toBe(identityOf(objects).unprivilegedServiceAccount);
    expect(template!.spec.volumes?.map((v) => Object.keys(v).sort())).toEqual([['emptyDir', 'name']]);
    const env = resolveEnv(template!.spec.containers[0]!, {
      objects,
      namespace: 'modelgate',
      podName: 'check',
      podSpec: template!.spec,
      placeholders: true,
    });
    expect(env.get('USAGE_RETENTION')).toBe('90d');
    expect(env.get('USAGE_PRUNE_BATCH')).toBe('5000');
  });

  it('leaves replicas to the HPA and never overlaps refreshes', () => {
    expect(one(objects, 'Deployment').spec).not.toHaveProperty('replicas');
    expect(one(objects, 'HorizontalPodAutoscaler').spec).toMatchObject({
      scaleTargetRef: { kind: 'Deployment', name: 'modelgate' },
    });
    expect(one(objects, 'CronJob', 'modelgate-refresh').spec).toMatchObject({ concurrencyPolicy: 'Forbid' });
  });

  it('mounts an example routing file the app accepts, under a fixed name so changes hot-reload instead of rolling', () => {
    const cm = one(objects, 'ConfigMap', 'modelgate-routing');
    const text = objectData(cm)['routing.yaml']!;
    const parsed = parseRoutingText(text, '/etc/modelgate/routing/routing.yaml', {});
    expect(parsed.ok ? [] : parsed.problems).toEqual([]);
    const pod = appPod(objects);
    const app = pod.spec.containers.find((c) => c.name === 'app')!;
    const volume = pod.spec.volumes!.find((v) => v.configMap?.name === 'modelgate-routing')!;
    expect(app.volumeMounts!.find((m) => m.name === volume.name)).toEqual({
      name: volume.name,
      mountPath: '/etc/modelgate/routing',
      readOnly: true,
    });
    const env = resolveEnv(app, { objects, namespace: 'modelgate', podName: 'p', podSpec: pod.spec });
    expect(env.get('ROUTING_FILE')).toBe('/etc/modelgate/routing/routing.yaml');
  });

  it('ships only a placeholder Secret', () => {
    const data = objectData(one(objects, 'Secret'));
    expect(Object.keys(data)).toEqual(['DATABASE_URL']);
    expect(data.DATABASE_URL).toMatch(/REPLACE_ME@[^/]+\.invalid:/);
  });

  it('follows an overlay namespace into the RoleBinding subject and MODELS_CONFIGMAP', async () => {
    const overlay = tempDir('overlay');
    try {
      writeFileSync(
        path.join(overlay, 'kustomization.yaml'),
        [
          'apiVersion: kustomize.config.k8s.io/v1beta1',
          'kind: Kustomization',
          'namespace: gateway',
          'resources:',
          `  - ${path.relative(overlay, kustomizeDir)}`,
          'configMapGenerator:',
          '  - name: modelgate-env',
          '    behavior: merge',
          '    literals:',
          '      - MODEL_SOURCE_URL=https://models.internal/active_models.json',
          '',
        ].join('\n'),
      );
      const built = await kustomizeBuild(kustomize, overlay);
      const binding = one(built, 'RoleBinding');
      expect(binding.subjects).toEqual([
        { kind: 'ServiceAccount', name: 'modelgate-init', namespace: 'gateway' },
      ]);
      const pod = appPod(built);
      const env = resolveEnv(pod.spec.initContainers![0]!, {
        objects: built,
        namespace: 'gateway',
        podName: 'p',
        podSpec: pod.spec,
      });
      expect(env.get('MODELS_CONFIGMAP')).toBe('gateway/modelgate-models');
      expect(env.get('MODEL_SOURCE_URL')).toBe('https://models.internal/active_models.json');
      expect(configMapProblems(built, identityOf(built), 'gateway')).toEqual([]);
      expect(podTemplates(built)).toHaveLength(3);
    } finally {
      rmSync(overlay, { recursive: true, force: true });
    }
  });

  it('takes a MODEL_SOURCE_URL with a password or token from the Secret in init and the refresh CronJob, and from modelgate-env when the Secret has none', async () => {
    const secretUrl = 'https://reader:pw-4711@models.internal/active_models.json?token=tok-4711';
    const overlay = tempDir('secret-source');
    try {
      writeFileSync(
        path.join(overlay, 'kustomization.yaml'),
        [
          'apiVersion: kustomize.config.k8s.io/v1beta1',
          'kind: Kustomization',
          'namespace: gateway',
          'resources:',
          `  - ${path.relative(overlay, kustomizeDir)}`,
          'secretGenerator:',
          '  - name: modelgate',
          '    behavior: replace',
          '    literals:',
          '      - DATABASE_URL=postgres://modelgate:pw@db.internal:5432/modelgate',
          `      - MODEL_SOURCE_URL=${secretUrl}`,
          '',
        ].join('\n'),
      );
      const built = await kustomizeBuild(kustomize, overlay);
      const ctx = (podSpec: NonNullable<ReturnType<typeof appPod>['spec']>) => ({
        objects: built,
        namespace: 'gateway',
        podName: 'p',
        podSpec,
      });
      const pod = appPod(built);
      expect(resolveEnv(pod.spec.initContainers![0]!, ctx(pod.spec)).get('MODEL_SOURCE_URL')).toBe(secretUrl);
      const cron = one(built, 'CronJob', 'modelgate-refresh') as K8sObject & {
        spec: { jobTemplate: { spec: { template: { spec: typeof pod.spec } } } };
      };
      const cronPod = cron.spec.jobTemplate.spec.template.spec;
      expect(resolveEnv(cronPod.containers[0]!, ctx(cronPod)).get('MODEL_SOURCE_URL')).toBe(secretUrl);
      // Neither secret is in a non-secret object.
      const plain = JSON.stringify(built.filter((o) => o.kind !== 'Secret'));
      expect(plain).not.toContain('pw-4711');
      expect(plain).not.toContain('tok-4711');
      // The base's Secret has no such key: the ConfigMap's URL is used (an optional key left out, as the kubelet does).
      const base = appPod(objects);
      expect(
        resolveEnv(base.spec.initContainers![0]!, { ...ctx(base.spec), objects, namespace: 'modelgate' }).get(
          'MODEL_SOURCE_URL',
        ),
      ).toBe('https://models.example.com/active_models.json');
    } finally {
      rmSync(overlay, { recursive: true, force: true });
    }
  });

  it('builds the example overlay of docs/deploy.md: namespace, image, settings and the real Secret replace the base ones', async () => {
    const readme = readFileSync(path.join(repoRoot, 'docs', 'deploy.md'), 'utf8');
    const example = /<!-- kustomize-overlay-example -->\s*```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    const secretEnv = /<!-- kustomize-secret-env-example -->\s*```sh\n([\s\S]*?)```/.exec(readme)?.[1];
    const keyPatch = /<!-- kustomize-key-patch-example -->\s*```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toContain('secretGenerator');
    expect(secretEnv).toContain('DATABASE_URL=');
    const overlay = tempDir('example');
    try {
      // The example points at the released base; here it is this checkout's.
      // With the patch that maps one more upstream key, as the page suggests for more upstreams.
      const kustomization = YAML.parse(
        example!.replace(/^(\s*- )\S*\/\/k8s\S*.*$/m, `$1${path.relative(overlay, kustomizeDir)}`),
      ) as { patches: unknown[] };
      kustomization.patches.push(...(YAML.parse(keyPatch!) as { patches: unknown[] }).patches);
      writeFileSync(path.join(overlay, 'kustomization.yaml'), YAML.stringify(kustomization));
      writeFileSync(
        path.join(overlay, 'secret.env'),
        `${secretEnv!.replace('REPLACE_ME', 's3cret')}BACKUP_API_KEY=backup-key\n`,
      );
      const built = await kustomizeBuild(kustomize, overlay);
      expect(new Set(built.map((o) => o.metadata.namespace))).toEqual(new Set(['gateway']));
      const pod = appPod(built);
      for (const c of [...pod.spec.initContainers!, ...pod.spec.containers])
        expect(c.image).toBe('registry.example.com/modelgate:0.1.0');
      const env = resolveEnv(pod.spec.initContainers![0]!, {
        objects: built,
        namespace: 'gateway',
        podName: 'p',
        podSpec: pod.spec,
      });
      expect(env.get('DATABASE_URL')).toBe(
        'postgres://modelgate:s3cret@postgres.example.internal:5432/modelgate',
      );
      expect(env.get('MODEL_SOURCE_URL')).toBe('https://models.example.com/active_models.json');
      expect(env.get('MODELS_CONFIGMAP')).toBe('gateway/modelgate-models');
      // The patched routing file is one the app accepts with the variables its pod gets.
      const app = pod.spec.containers.find((c) => c.name === 'app')!;
      const appEnv = resolveEnv(app, {
        objects: built,
        namespace: 'gateway',
        podName: 'p',
        podSpec: pod.spec,
      });
      expect(appEnv.has('UPSTREAM_URL')).toBe(false);
      expect(appEnv.get('UPSTREAM_API_KEY')).toBe('the-primary-upstream-key');
      expect(appEnv.get('BACKUP_API_KEY')).toBe('backup-key');
      const routing = objectData(one(built, 'ConfigMap', 'modelgate-routing'))['routing.yaml']!;
      expect(routing).toContain('https://upstream.example.com');
      const parsed = parseRoutingText(routing, appEnv.get('ROUTING_FILE')!, Object.fromEntries(appEnv));
      expect(parsed.ok ? [] : parsed.problems).toEqual([]);
      expect(schemaProblems(await validateK8s(built))).toEqual([]);
    } finally {
      rmSync(overlay, { recursive: true, force: true });
    }
  });
});

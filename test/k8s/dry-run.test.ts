// Issue 7, test 3: every k8s/ manifest and every chart scenario's rendered objects pass the real API server's
// server-side dry-run (dryRun=All): schema, defaulting, validation and admission, nothing persisted. Field validation
// is Strict (an unknown or duplicated field is an error), and the namespaces enforce the PodSecurity "restricted"
// profile (pods are refused, workload objects draw warnings, and a warning fails the test too).
import fs from 'node:fs';
import path from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import YAML from 'yaml';
import { adminKubeConfig, describeK8s, parseManifests, uniqueName } from '../support/k8s/cluster';
import {
  chartScenarios,
  kustomizeBaseDir,
  kustomizeBuild,
  objectKey,
  renderChart,
  writeNamespaceOverlay,
} from '../support/k8s/commands';
import { create, dryRunCreate, installMonitoringCrds, responseMessage } from '../support/k8s/rest';

const RESTRICTED = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/warn': 'restricted',
};

/** A namespace enforcing PodSecurity "restricted"; `name` defaults to a fresh one. Idempotent for fixed names. */
async function restrictedNamespace(kc: k8s.KubeConfig, name = uniqueName('dry')): Promise<string> {
  const response = await create(kc, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: RESTRICTED },
  });
  if (response.status !== 201 && response.status !== 409) {
    throw new Error(`creating namespace ${name}: HTTP ${response.status}: ${responseMessage(response)}`);
  }
  return name;
}

/** Dry-runs every object; returns one line per object the server refused or warned about. */
async function dryRunProblems(
  kc: k8s.KubeConfig,
  objects: readonly k8s.KubernetesObject[],
  namespace: string,
): Promise<string[]> {
  const problems: string[] = [];
  for (const object of objects) {
    const response = await dryRunCreate(kc, object, namespace);
    if (response.status !== 201 && response.status !== 200) {
      problems.push(`${objectKey(object)}: HTTP ${response.status}: ${responseMessage(response)}`);
    }
    for (const warning of response.warnings) problems.push(`${objectKey(object)}: warning: ${warning}`);
  }
  return problems;
}

function kinds(objects: readonly k8s.KubernetesObject[]): string[] {
  return [...new Set(objects.map((object) => object.kind!))].sort();
}

describeK8s('server-side dry-run against the real API server', [], () => {
  const kc = adminKubeConfig();

  it('catches what it is meant to catch: an unknown field, and a pod that would run as root', async () => {
    const namespace = await restrictedNamespace(kc);
    const withTypo: k8s.KubernetesObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'typo' },
      ...{ dta: { key: 'value' } },
    };
    const typo = await dryRunCreate(kc, withTypo, namespace);
    expect(typo.status).toBe(400);
    expect(responseMessage(typo)).toMatch(/unknown field "dta"/);

    const rootPod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'root' },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
    };
    const refused = await dryRunCreate(kc, rootPod, namespace);
    expect(refused.status).toBe(403);
    expect(responseMessage(refused)).toMatch(/violates PodSecurity "restricted/);
  });
});

describeK8s('server-side dry-run of the kustomize base', ['kustomize'], (tools) => {
  const kc = adminKubeConfig();

  it('accepts `kustomize build k8s/` in its own namespace, which holds every manifest of k8s/', async () => {
    const objects = await kustomizeBuild(tools.kustomize, kustomizeBaseDir);
    // The manifests are applied through kustomize (its labels complete the Deployment's selector), so the build is
    // what is dry-run; it must contain every object of every file in k8s/.
    const files = fs
      .readdirSync(kustomizeBaseDir)
      .filter((file) => /\.ya?ml$/.test(file) && file !== 'kustomization.yaml');
    const inFiles = files.flatMap((file) =>
      parseManifests(fs.readFileSync(path.join(kustomizeBaseDir, file), 'utf8')).map(objectKey),
    );
    expect(inFiles.length).toBeGreaterThanOrEqual(files.length);
    expect(objects.map(objectKey)).toEqual(expect.arrayContaining(inFiles));
    const namespaces = new Set(objects.map((object) => object.metadata?.namespace));
    expect([...namespaces]).toEqual(['modelgate']);
    expect(kinds(objects)).toEqual(
      expect.arrayContaining(['Deployment', 'Role', 'RoleBinding', 'ServiceAccount']),
    );
    // Dry-run into a fresh namespace: the RBAC test really creates the base's objects in `modelgate`, and a
    // dry-run create of an existing object is a 409, whichever file runs first.
    const namespace = await restrictedNamespace(kc);
    const moved = objects.map((object) => ({ ...object, metadata: { ...object.metadata, namespace } }));
    expect(await dryRunProblems(kc, moved, namespace)).toEqual([]);
  });

  it('accepts an overlay that moves it to another namespace (what the base tells users to write)', async () => {
    const namespace = await restrictedNamespace(kc);
    const objects = await kustomizeBuild(tools.kustomize, writeNamespaceOverlay(namespace));
    expect(await dryRunProblems(kc, objects, namespace)).toEqual([]);
  });
});

describeK8s('server-side dry-run of every chart scenario', ['helm'], (tools) => {
  const kc = adminKubeConfig();
  beforeAll(async () => {
    await installMonitoringCrds(kc);
  });

  it('has scenarios to render', () => {
    expect(chartScenarios().map((file) => path.basename(file))).toEqual(
      expect.arrayContaining(['default-values.yaml', 'job-mode-values.yaml', 'monitoring-values.yaml']),
    );
  });

  it.each(chartScenarios().map((file) => [path.basename(file), file]))(
    'accepts every object rendered by %s',
    async (_name, valuesFile) => {
      const namespace = await restrictedNamespace(kc);
      const objects = await renderChart(tools.helm, {
        release: 'mg',
        namespace,
        valuesFiles: [valuesFile],
      });
      expect(objects.length).toBeGreaterThan(0);
      const values = YAML.parse(fs.readFileSync(valuesFile, 'utf8')) as {
        metrics?: { serviceMonitor?: { enabled?: boolean } };
      };
      if (values.metrics?.serviceMonitor?.enabled) {
        expect(kinds(objects)).toEqual(expect.arrayContaining(['PrometheusRule', 'ServiceMonitor']));
      }
      expect(await dryRunProblems(kc, objects, namespace)).toEqual([]);
    },
  );
});

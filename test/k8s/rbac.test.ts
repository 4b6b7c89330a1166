// Issue 7, test 2: least privilege, decided by the real RBAC authorizer. The chart's and the kustomize base's RBAC
// objects are created for real; SubjectAccessReview then asks what each ServiceAccount may do: the init
// ServiceAccount may get, update and patch the one models ConfigMap and nothing else, the app ServiceAccount may
// do nothing. SelfSubjectRulesReview, with TokenRequest tokens, lists every rule a ServiceAccount really holds.
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import {
  adminKubeConfig,
  createNamespace,
  createServiceAccount,
  describeK8s,
  issueServiceAccountToken,
  kubeConfigFromFile,
  writeTokenKubeconfig,
} from '../support/k8s/cluster';
import {
  chartDir,
  kustomizeBaseDir,
  kustomizeBuild,
  renderChart,
  writeNamespaceOverlay,
} from '../support/k8s/commands';
import { deployRbac, type Deployed } from '../support/k8s/deploy';
import { create } from '../support/k8s/rest';

const scenario = (name: string) => path.join(chartDir, 'ci', `${name}-values.yaml`);

type Attributes = k8s.V1ResourceAttributes;

async function allowed(kc: k8s.KubeConfig, namespace: string, sa: string, attributes: Attributes) {
  const review = await kc.makeApiClient(k8s.AuthorizationV1Api).createSubjectAccessReview({
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: `system:serviceaccount:${namespace}:${sa}`,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
        resourceAttributes: attributes,
      },
    },
  });
  return review.status?.allowed === true;
}

/** Which of `checks` the ServiceAccount is allowed, as "verb resource[/name] in namespace" lines. */
async function allowedOf(kc: k8s.KubeConfig, namespace: string, sa: string, checks: Attributes[]) {
  const granted: string[] = [];
  for (const attributes of checks) {
    if (await allowed(kc, namespace, sa, attributes)) {
      const target = `${attributes.group ? `${attributes.group}/` : ''}${attributes.resource}${attributes.name ? `/${attributes.name}` : ''}`;
      granted.push(`${attributes.verb} ${target} in ${attributes.namespace ?? '(cluster)'}`);
    }
  }
  return granted;
}

/** Everything a ServiceAccount may do in `namespace`, asked with its own TokenRequest token. */
async function rulesOf(namespace: string, sa: string): Promise<k8s.V1ResourceRule[]> {
  const token = await issueServiceAccountToken(namespace, sa);
  const review = await kubeConfigFromFile(writeTokenKubeconfig(token, namespace))
    .makeApiClient(k8s.AuthorizationV1Api)
    .createSelfSubjectRulesReview({
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace } },
    });
  return review.status?.resourceRules ?? [];
}

function normalized(rules: k8s.V1ResourceRule[]): string[] {
  return rules
    .map((rule) =>
      JSON.stringify({
        apiGroups: [...(rule.apiGroups ?? [])].sort(),
        resources: [...(rule.resources ?? [])].sort(),
        resourceNames: [...(rule.resourceNames ?? [])].sort(),
        verbs: [...rule.verbs].sort(),
      }),
    )
    .sort();
}

/** The rules every authenticated identity has (system:basic-user and friends): a bare ServiceAccount's rules. */
async function baselineRules(): Promise<Set<string>> {
  const namespace = await createNamespace('baseline');
  await createServiceAccount(namespace, 'bare');
  return new Set(normalized(await rulesOf(namespace, 'bare')));
}

/** Checks that would expose any right beyond get/update/patch of the one ConfigMap. */
function probes(d: Deployed, otherNamespace: string): Attributes[] {
  const inNs = (verb: string, resource: string, name?: string, group = ''): Attributes => ({
    namespace: d.namespace,
    verb,
    resource,
    group,
    ...(name ? { name } : {}),
  });
  return [
    inNs('get', 'configmaps', d.modelsConfigMap),
    inNs('update', 'configmaps', d.modelsConfigMap),
    inNs('patch', 'configmaps', d.modelsConfigMap),
    inNs('delete', 'configmaps', d.modelsConfigMap),
    inNs('watch', 'configmaps', d.modelsConfigMap),
    inNs('create', 'configmaps'),
    inNs('list', 'configmaps'),
    inNs('get', 'configmaps', 'some-other-configmap'),
    inNs('update', 'configmaps', 'some-other-configmap'),
    inNs('get', 'secrets', 'modelgate'),
    inNs('list', 'secrets'),
    inNs('get', 'pods'),
    inNs('list', 'pods'),
    inNs('create', 'serviceaccounts/token', d.initServiceAccount),
    inNs('create', 'rolebindings', undefined, 'rbac.authorization.k8s.io'),
    inNs('update', 'deployments', undefined, 'apps'),
    { namespace: otherNamespace, verb: 'get', resource: 'configmaps', name: d.modelsConfigMap, group: '' },
    { verb: 'list', resource: 'namespaces', group: '' },
  ];
}

describeK8s('RBAC decided by the real API server', ['helm', 'kustomize'], (tools) => {
  const kc = adminKubeConfig();
  let baseline: Set<string>;
  let otherNamespace: string;
  beforeAll(async () => {
    baseline = await baselineRules();
    otherNamespace = await createNamespace('other');
  });

  async function expectLeastPrivilege(d: Deployed): Promise<void> {
    // SubjectAccessReview: exactly the three verbs on the one ConfigMap for init, nothing for the app.
    expect(await allowedOf(kc, d.namespace, d.initServiceAccount, probes(d, otherNamespace))).toEqual([
      `get configmaps/${d.modelsConfigMap} in ${d.namespace}`,
      `update configmaps/${d.modelsConfigMap} in ${d.namespace}`,
      `patch configmaps/${d.modelsConfigMap} in ${d.namespace}`,
    ]);
    expect(await allowedOf(kc, d.namespace, d.unprivilegedServiceAccount, probes(d, otherNamespace))).toEqual(
      [],
    );

    // Every rule they hold beyond what any authenticated identity holds (cannot miss a right the probes skip).
    const extra = async (sa: string) =>
      normalized(await rulesOf(d.namespace, sa)).filter((rule) => !baseline.has(rule));
    expect(await extra(d.initServiceAccount)).toEqual([
      JSON.stringify({
        apiGroups: [''],
        resources: ['configmaps'],
        resourceNames: [d.modelsConfigMap],
        verbs: ['get', 'patch', 'update'],
      }),
    ]);
    expect(await extra(d.unprivilegedServiceAccount)).toEqual([]);
  }

  it('detects a right too many (a Role that also grants create)', async () => {
    const namespace = await createNamespace('wide');
    await createServiceAccount(namespace, 'init');
    await createServiceAccount(namespace, 'app');
    const role = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'too-wide' },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['create'] }],
    };
    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'too-wide' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'too-wide' },
      subjects: [{ kind: 'ServiceAccount', name: 'init', namespace }],
    };
    for (const object of [role, binding]) expect((await create(kc, object, namespace)).status).toBe(201);
    const d = {
      namespace,
      initServiceAccount: 'init',
      unprivilegedServiceAccount: 'app',
      modelsConfigMap: 'models',
    };
    expect(await allowedOf(kc, namespace, 'init', probes(d, otherNamespace))).toEqual([
      `create configmaps in ${namespace}`,
    ]);
  });

  it('chart: init may get/update/patch its ConfigMap and nothing else; the app may do nothing', async () => {
    const namespace = await createNamespace('rbac-chart');
    const objects = await renderChart(tools.helm, {
      release: 'mg',
      namespace,
      valuesFiles: [scenario('default')],
    });
    const deployed = await deployRbac(kc, objects, namespace);
    expect(deployed).toMatchObject({ initServiceAccount: expect.stringMatching(/init/) });
    await expectLeastPrivilege(deployed);
  });

  it('chart in job mode: the same rights', async () => {
    const namespace = await createNamespace('rbac-job');
    const objects = await renderChart(tools.helm, {
      release: 'mg',
      namespace,
      valuesFiles: [scenario('job-mode')],
    });
    expect(objects.filter((o) => o.kind === 'Job')).toHaveLength(1);
    await expectLeastPrivilege(await deployRbac(kc, objects, namespace));
  });

  it('kustomize base (namespace modelgate): the same rights', async () => {
    await expectLeastPrivilege(await deployRbac(kc, await kustomizeBuild(tools.kustomize, kustomizeBaseDir)));
  });

  // Regression: the RoleBinding subject must not name a namespace, or an overlay's init ServiceAccount gets
  // nothing (kustomize's namespace transformer leaves an explicit subject namespace alone).
  it('kustomize overlay in another namespace: the same rights', async () => {
    const namespace = await createNamespace('rbac-overlay');
    const objects = await kustomizeBuild(tools.kustomize, writeNamespaceOverlay(namespace));
    await expectLeastPrivilege(await deployRbac(kc, objects));
  });
});

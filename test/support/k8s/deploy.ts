// Creates a rendering's RBAC objects and models ConfigMap for real (chart or kustomize output).
import type * as k8s from '@kubernetes/client-node';
import { objectKey } from './commands';
import { create, responseMessage } from './rest';

const RBAC_KINDS = new Set(['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding']);

export interface Deployed {
  namespace: string;
  initServiceAccount: string;
  unprivilegedServiceAccount: string;
  modelsConfigMap: string;
}

function component(object: k8s.KubernetesObject): string | undefined {
  return object.metadata?.labels?.['app.kubernetes.io/component'];
}

function single<T>(items: T[], what: string): T {
  if (items.length !== 1) throw new Error(`expected exactly one ${what}, found ${items.length}`);
  return items[0]!;
}

/**
 * Creates the RBAC objects and the models ConfigMap of a rendering for real, in the namespace the rendering names
 * (created if needed), and says which ServiceAccount is which. ClusterRoles would be created too (and then fail
 * the least-privilege checks), so a rendering cannot hide rights there.
 */
export async function deployRbac(
  kc: k8s.KubeConfig,
  objects: k8s.KubernetesObject[],
  releaseNamespace?: string,
): Promise<Deployed> {
  const namespace =
    releaseNamespace ?? single([...new Set(objects.map((o) => o.metadata?.namespace))], 'namespace');
  if (!namespace) throw new Error('the rendering sets no namespace');
  const ns = await create(kc, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  if (ns.status !== 201 && ns.status !== 409)
    throw new Error(`namespace ${namespace}: ${responseMessage(ns)}`);
  const serviceAccounts = objects.filter((o) => o.kind === 'ServiceAccount');
  const configMaps = objects.filter((o) => o.kind === 'ConfigMap' && component(o) === 'models');
  const modelsConfigMap = single(configMaps, 'models ConfigMap (component "models")');
  for (const object of [...objects.filter((o) => RBAC_KINDS.has(o.kind!)), modelsConfigMap]) {
    const response = await create(kc, object, namespace);
    if (response.status !== 201) {
      throw new Error(`creating ${objectKey(object)}: HTTP ${response.status}: ${responseMessage(response)}`);
    }
  }
  return {
    namespace,
    initServiceAccount: single(
      serviceAccounts.filter((o) => component(o) === 'init'),
      'init ServiceAccount',
    ).metadata!.name!,
    unprivilegedServiceAccount: single(
      serviceAccounts.filter((o) => component(o) === 'server'),
      'unprivileged ServiceAccount',
    ).metadata!.name!,
    modelsConfigMap: modelsConfigMap.metadata!.name!,
  };
}

import { isApp, isInit, type Identity } from './checks';
import { podTemplates, type PodTemplate } from './pod-env';
import type { K8sObject } from './render';

/**
 * Reads the names that must agree from the rendered objects themselves: the ConfigMap the Role grants, the
 * ServiceAccount the RoleBinding binds, and the one without rights.
 */
export function identityOf(objects: readonly K8sObject[]): Identity {
  const role = objects.find((o) => o.kind === 'Role');
  const binding = objects.find((o) => o.kind === 'RoleBinding');
  const configMapName = (role?.rules as { resourceNames?: string[] }[] | undefined)?.[0]?.resourceNames?.[0];
  const initServiceAccount = (binding?.subjects as { name?: string }[] | undefined)?.[0]?.name;
  const others = objects.filter((o) => o.kind === 'ServiceAccount' && o.metadata.name !== initServiceAccount);
  if (!configMapName || !initServiceAccount || others.length !== 1) {
    throw new Error(
      `cannot tell the models ConfigMap and the ServiceAccounts apart (Role ${role?.metadata.name}, RoleBinding ${binding?.metadata.name}, ${others.length} other ServiceAccounts)`,
    );
  }
  return { configMapName, initServiceAccount, unprivilegedServiceAccount: others[0]!.metadata.name };
}

/** The Deployment's pod template (the one with the app container). */
export function appPod(objects: readonly K8sObject[]): PodTemplate {
  const pods = podTemplates(objects).filter((t) => t.owner.kind === 'Deployment');
  if (pods.length !== 1 || !pods[0]!.spec.containers.some(isApp))
    throw new Error(`expected one Deployment running modelgate-app, found ${pods.length}`);
  return pods[0]!;
}

/** Every distinct `modelgate-init` argument list in the rendered pods. */
export function initInvocations(objects: readonly K8sObject[]): string[][] {
  const seen = new Map<string, string[]>();
  for (const { spec } of podTemplates(objects)) {
    for (const c of [...(spec.initContainers ?? []), ...spec.containers].filter(isInit)) {
      const args = c.args ?? [];
      seen.set(JSON.stringify(args), args);
    }
  }
  return [...seen.values()];
}

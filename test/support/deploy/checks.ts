import { parseDuration } from '../../../core/config/duration';
import {
  allContainers,
  resolveEnv,
  podTemplates,
  type Container,
  type PodSpec,
  type PodTemplate,
} from './pod-env';
import type { K8sObject } from './render';

/**
 * Checks on rendered manifests (helm chart and kustomize base alike). Each returns a list of problems, empty when
 * the manifests are right, so the unit tests can prove every check fails on a manifest that breaks its rule.
 */

export const TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
const INIT_BIN = 'modelgate-init';
const APP_BIN = 'modelgate-app';

export const isInit = (c: Container) => c.command?.[0] === INIT_BIN;
export const isApp = (c: Container) => c.command?.[0] === APP_BIN;

function volumeOf(spec: PodSpec, container: Container, mountPath: string) {
  const mount = container.volumeMounts?.find((m) => m.mountPath === mountPath);
  return mount && spec.volumes?.find((v) => v.name === mount.name);
}

/** Non-root with a numeric user, seccomp RuntimeDefault, read-only root, no escalation, no capabilities, /tmp. */
export function securityProblems(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  for (const { ref, spec } of podTemplates(objects)) {
    const pod = spec.securityContext ?? {};
    if (pod.runAsNonRoot !== true) problems.push(`${ref}: pod securityContext.runAsNonRoot is not true`);
    if (!(typeof pod.runAsUser === 'number' && pod.runAsUser > 0))
      problems.push(`${ref}: pod securityContext.runAsUser is not a numeric non-root user`);
    if ((pod.seccompProfile as { type?: string } | undefined)?.type !== 'RuntimeDefault')
      problems.push(`${ref}: pod seccompProfile is not RuntimeDefault`);
    if (spec.hostNetwork || spec.hostPID || spec.hostIPC) problems.push(`${ref}: shares a host namespace`);
    if (spec.automountServiceAccountToken !== false)
      problems.push(`${ref}: automountServiceAccountToken is not false (tokens are projected where needed)`);
    for (const volume of spec.volumes ?? []) {
      if (volume.hostPath) problems.push(`${ref}: volume ${volume.name} is a hostPath`);
    }
    for (const c of allContainers(spec)) {
      const where = `${ref} container ${c.name}`;
      const sc = c.securityContext ?? {};
      if (sc.runAsNonRoot !== true) problems.push(`${where}: runAsNonRoot is not true`);
      if (!(typeof sc.runAsUser === 'number' && sc.runAsUser > 0))
        problems.push(`${where}: runAsUser is not a numeric non-root user`);
      if (sc.allowPrivilegeEscalation !== false)
        problems.push(`${where}: allowPrivilegeEscalation is not false`);
      if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem is not true`);
      if (sc.privileged === true) problems.push(`${where}: is privileged`);
      const caps = (sc.capabilities ?? {}) as { drop?: string[]; add?: string[] };
      if (!caps.drop?.includes('ALL')) problems.push(`${where}: capabilities do not drop ALL`);
      if (caps.add?.length) problems.push(`${where}: adds capabilities ${caps.add.join(', ')}`);
      if ((sc.seccompProfile as { type?: string } | undefined)?.type !== 'RuntimeDefault')
        problems.push(`${where}: seccompProfile is not RuntimeDefault`);
      if (!volumeOf(spec, c, '/tmp')?.emptyDir) problems.push(`${where}: /tmp is not an emptyDir`);
    }
  }
  return problems;
}

export interface Identity {
  configMapName: string;
  initServiceAccount: string;
  unprivilegedServiceAccount: string;
}

/** The init ServiceAccount may get, update and patch the one models ConfigMap; nothing else has any rights. */
export function rbacProblems(objects: readonly K8sObject[], id: Identity): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    if (o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding')
      problems.push(`${o.kind}/${o.metadata.name}: cluster-wide RBAC is not needed`);
  }
  const roles = objects.filter((o) => o.kind === 'Role');
  if (roles.length !== 1) return [...problems, `expected exactly one Role, found ${roles.length}`];
  const role = roles[0]!;
  const rules = (role.rules ?? []) as Record<string, string[] | undefined>[];
  if (rules.length !== 1)
    problems.push(`Role/${role.metadata.name}: expected one rule, found ${rules.length}`);
  const rule = rules[0] ?? {};
  const same = (a: string[] | undefined, b: string[]) =>
    JSON.stringify([...(a ?? [])].sort()) === JSON.stringify([...b].sort());
  if (!same(rule.apiGroups, ['']))
    problems.push(`Role rule apiGroups ${JSON.stringify(rule.apiGroups)}, want [""]`);
  if (!same(rule.resources, ['configmaps']))
    problems.push(`Role rule resources ${JSON.stringify(rule.resources)}, want ["configmaps"]`);
  if (!same(rule.resourceNames, [id.configMapName]))
    problems.push(
      `Role rule resourceNames ${JSON.stringify(rule.resourceNames)}, want ["${id.configMapName}"]`,
    );
  if (!same(rule.verbs, ['get', 'patch', 'update']))
    problems.push(`Role rule verbs ${JSON.stringify(rule.verbs)}, want get, patch, update`);
  const bindings = objects.filter((o) => o.kind === 'RoleBinding');
  if (bindings.length !== 1)
    return [...problems, `expected exactly one RoleBinding, found ${bindings.length}`];
  const binding = bindings[0]!;
  const roleRef = binding.roleRef as { kind?: string; name?: string };
  if (roleRef.kind !== 'Role' || roleRef.name !== role.metadata.name)
    problems.push(`RoleBinding/${binding.metadata.name} does not bind Role/${role.metadata.name}`);
  const subjects = (binding.subjects ?? []) as { kind?: string; name?: string }[];
  if (
    subjects.length !== 1 ||
    subjects[0]?.kind !== 'ServiceAccount' ||
    subjects[0].name !== id.initServiceAccount
  )
    problems.push(
      `RoleBinding subjects ${JSON.stringify(subjects)}, want only ServiceAccount ${id.initServiceAccount}`,
    );
  for (const name of [id.unprivilegedServiceAccount, id.initServiceAccount]) {
    const sa = objects.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === name);
    if (!sa) problems.push(`ServiceAccount/${name} is missing`);
    else if (sa.automountServiceAccountToken !== false)
      problems.push(`ServiceAccount/${name}: automountServiceAccountToken is not false`);
  }
  return problems;
}

/**
 * The app container never sees a token; a token is projected only into modelgate-init containers, in pods that run
 * as the init ServiceAccount.
 */
export function tokenProblems(objects: readonly K8sObject[], id: Identity): string[] {
  const problems: string[] = [];
  for (const { ref, spec } of podTemplates(objects)) {
    for (const c of allContainers(spec)) {
      const mounted = c.volumeMounts?.some((m) => m.mountPath.startsWith(TOKEN_PATH));
      if (!mounted) continue;
      if (!isInit(c)) problems.push(`${ref} container ${c.name} mounts a ServiceAccount token`);
      if (spec.serviceAccountName !== id.initServiceAccount)
        problems.push(
          `${ref}: mounts a token but runs as ${spec.serviceAccountName}, not ${id.initServiceAccount}`,
        );
    }
    if (
      spec.serviceAccountName !== id.initServiceAccount &&
      spec.serviceAccountName !== id.unprivilegedServiceAccount
    )
      problems.push(`${ref}: runs as unexpected ServiceAccount ${spec.serviceAccountName}`);
  }
  return problems;
}

/** The models ConfigMap's name agrees across the ConfigMap, the Role, the pods' volumes and MODELS_CONFIGMAP. */
export function configMapProblems(objects: readonly K8sObject[], id: Identity, namespace: string): string[] {
  const problems: string[] = [];
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === id.configMapName);
  if (!cm) problems.push(`ConfigMap/${id.configMapName} is not pre-created`);
  for (const template of podTemplates(objects)) {
    const { ref, spec } = template;
    for (const c of allContainers(spec)) {
      const env = resolveEnv(c, { objects, namespace, podName: 'check', podSpec: spec, placeholders: true });
      const target = env.get('MODELS_CONFIGMAP');
      if (isInit(c) && target !== undefined && target !== `${namespace}/${id.configMapName}`)
        problems.push(
          `${ref} container ${c.name}: MODELS_CONFIGMAP=${target}, want ${namespace}/${id.configMapName}`,
        );
      const dir = env.get('MODELS_CONFIGMAP_DIR');
      if (dir !== undefined) {
        const volume = volumeOf(spec, c, dir);
        if (volume?.configMap?.name !== id.configMapName)
          problems.push(
            `${ref} container ${c.name}: MODELS_CONFIGMAP_DIR ${dir} is not the models ConfigMap`,
          );
        else if (volume.configMap.optional !== true)
          problems.push(`${ref}: the models ConfigMap volume is not optional`);
      }
      if (isApp(c) && dir === undefined)
        problems.push(`${ref} container ${c.name}: MODELS_CONFIGMAP_DIR unset`);
    }
    for (const v of spec.volumes ?? []) {
      if (v.configMap && v.configMap.name !== id.configMapName && v.name === 'models-configmap')
        problems.push(`${ref}: volume ${v.name} mounts ConfigMap ${v.configMap.name}`);
    }
  }
  return problems;
}

/** MODELS_FILE of every modelgate container lies in an emptyDir shared by the pod's init and app containers. */
export function artifactProblems(
  template: PodTemplate,
  objects: readonly K8sObject[],
  namespace: string,
): string[] {
  const problems: string[] = [];
  const { ref, spec } = template;
  const volumes = new Set<string>();
  for (const c of allContainers(spec)) {
    const file = resolveEnv(c, {
      objects,
      namespace,
      podName: 'check',
      podSpec: spec,
      placeholders: true,
    }).get('MODELS_FILE');
    if (!file) {
      problems.push(`${ref} container ${c.name}: MODELS_FILE unset`);
      continue;
    }
    const mount = (c.volumeMounts ?? []).find((m) => file.startsWith(`${m.mountPath}/`));
    const volume = mount && spec.volumes?.find((v) => v.name === mount.name);
    if (!volume?.emptyDir)
      problems.push(`${ref} container ${c.name}: MODELS_FILE ${file} is not in an emptyDir`);
    else volumes.add(volume.name);
  }
  if (volumes.size > 1) problems.push(`${ref}: init and app write MODELS_FILE into different volumes`);
  return problems;
}

/** Startup and liveness on /livez, readiness on /readyz, a named port that is PORT, preStop, grace period. */
export function probeProblems(
  template: PodTemplate,
  objects: readonly K8sObject[],
  namespace: string,
): string[] {
  const problems: string[] = [];
  const { ref, spec } = template;
  const app = spec.containers.find(isApp);
  if (!app) return [`${ref}: no modelgate-app container`];
  const env = resolveEnv(app, { objects, namespace, podName: 'check', podSpec: spec, placeholders: true });
  const expected = { startupProbe: '/livez', livenessProbe: '/livez', readinessProbe: '/readyz' } as const;
  for (const [kind, path] of Object.entries(expected) as [keyof typeof expected, string][]) {
    const probe = app[kind];
    if (!probe?.httpGet) {
      problems.push(`${ref}: ${kind} is not an httpGet probe`);
      continue;
    }
    if (probe.httpGet.path !== path)
      problems.push(`${ref}: ${kind} path ${probe.httpGet.path}, want ${path}`);
    const port = app.ports?.find(
      (p) => p.name === probe.httpGet!.port || p.containerPort === probe.httpGet!.port,
    );
    if (!port) problems.push(`${ref}: ${kind} port ${probe.httpGet.port} is not a container port`);
    else if (env.get('PORT') !== String(port.containerPort))
      problems.push(
        `${ref}: ${kind} targets ${port.containerPort} but the app listens on PORT=${env.get('PORT')}`,
      );
  }
  const readinessPeriod = app.readinessProbe?.periodSeconds ?? 10;
  const preStop = app.lifecycle?.preStop?.sleep?.seconds;
  if (preStop === undefined) problems.push(`${ref}: no preStop sleep before draining`);
  else if (preStop < readinessPeriod || preStop > 3 * readinessPeriod)
    problems.push(
      `${ref}: preStop sleeps ${preStop}s, want about one readiness period (${readinessPeriod}s)`,
    );
  const seconds = (name: string, fallback: string) => (parseDuration(env.get(name) ?? fallback) ?? 0) / 1000;
  const needed = (preStop ?? 0) + seconds('SHUTDOWN_DELAY', '5s') + seconds('SHUTDOWN_TIMEOUT', '25s');
  const grace = spec.terminationGracePeriodSeconds ?? 30;
  if (grace <= needed)
    problems.push(
      `${ref}: terminationGracePeriodSeconds ${grace} does not exceed preStop + drain (${needed}s)`,
    );
  return problems;
}

import type { K8sObject } from './render';

/** The parts of the Kubernetes pod API the rehearsal and the chart checks read. */
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    fieldRef?: { fieldPath: string; apiVersion?: string };
    resourceFieldRef?: unknown;
  };
}

export interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name: string; optional?: boolean };
  secretRef?: { name: string; optional?: boolean };
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
}

export interface Probe {
  httpGet?: { path?: string; port: number | string; scheme?: string };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
  successThreshold?: number;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  volumeMounts?: VolumeMount[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  securityContext?: Record<string, unknown>;
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: unknown; httpGet?: unknown } };
  resources?: unknown;
}

export interface Volume {
  name: string;
  emptyDir?: { medium?: string; sizeLimit?: string };
  configMap?: { name: string; optional?: boolean; items?: { key: string; path: string }[] };
  secret?: { secretName: string; optional?: boolean };
  projected?: { sources: Record<string, unknown>[] };
  hostPath?: unknown;
}

export interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: Record<string, unknown>;
  initContainers?: Container[];
  containers: Container[];
  volumes?: Volume[];
  terminationGracePeriodSeconds?: number;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  restartPolicy?: string;
  [key: string]: unknown;
}

export interface PodTemplate {
  /** kind/name of the object holding the pod template. */
  ref: string;
  owner: K8sObject;
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}

/** Every pod template of the rendered objects (Deployment, Job, CronJob, bare Pod). */
export function podTemplates(objects: readonly K8sObject[]): PodTemplate[] {
  const templates: PodTemplate[] = [];
  for (const o of objects) {
    const ref = `${o.kind}/${o.metadata.name}`;
    type Template = { metadata?: PodTemplate['metadata']; spec: PodSpec };
    const spec = o.spec as
      | { template: Template; jobTemplate: { spec: { template: Template } } }
      | (PodSpec & Record<string, never>)
      | undefined;
    if (!spec) continue;
    if (o.kind === 'Deployment' || o.kind === 'Job' || o.kind === 'StatefulSet' || o.kind === 'DaemonSet') {
      templates.push({ ref, owner: o, metadata: spec.template.metadata ?? {}, spec: spec.template.spec });
    } else if (o.kind === 'CronJob') {
      const template = spec.jobTemplate.spec.template;
      templates.push({ ref, owner: o, metadata: template.metadata ?? {}, spec: template.spec });
    } else if (o.kind === 'Pod') {
      templates.push({ ref, owner: o, metadata: o.metadata, spec: spec as PodSpec });
    }
  }
  return templates;
}

export function allContainers(spec: PodSpec): Container[] {
  return [...(spec.initContainers ?? []), ...spec.containers];
}

/** What the kubelet knows when it builds a container's environment. */
export interface EnvContext {
  objects: readonly K8sObject[];
  namespace: string;
  podName: string;
  podSpec: PodSpec;
  podMetadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  /** Static checks of manifests whose Secrets live outside them: use `<kind:name/key>` instead of failing. */
  placeholders?: boolean;
}

/** Raised where the kubelet would refuse to start the container (CreateContainerConfigError). */
export class ContainerConfigError extends Error {}

function findObject(ctx: EnvContext, kind: 'Secret' | 'ConfigMap', name: string): K8sObject | undefined {
  return ctx.objects.find(
    (o) =>
      o.kind === kind &&
      o.metadata.name === name &&
      (o.metadata.namespace ?? ctx.namespace) === ctx.namespace,
  );
}

/** A Secret's or ConfigMap's data as strings (Secret data is base64, stringData wins as the API server does). */
export function objectData(object: K8sObject): Record<string, string> {
  const out: Record<string, string> = {};
  const data = (object.data ?? {}) as Record<string, string>;
  for (const [key, value] of Object.entries(data)) {
    out[key] = object.kind === 'Secret' ? Buffer.from(value, 'base64').toString('utf8') : String(value);
  }
  for (const [key, value] of Object.entries((object.stringData ?? {}) as Record<string, string>)) {
    out[key] = String(value);
  }
  return out;
}

function keyRef(
  ctx: EnvContext,
  kind: 'Secret' | 'ConfigMap',
  ref: { name: string; key: string; optional?: boolean },
  variable: string,
): string | undefined {
  const object = findObject(ctx, kind, ref.name);
  const value = object ? objectData(object)[ref.key] : undefined;
  if (!object && ctx.placeholders) return `<${kind}:${ref.name}/${ref.key}>`;
  if (value === undefined && !ref.optional) {
    throw new ContainerConfigError(
      `${variable}: ${kind} ${ref.name} ${object ? `has no key ${ref.key}` : 'does not exist'} and the reference is not optional`,
    );
  }
  return value;
}

function fieldValue(ctx: EnvContext, fieldPath: string, variable: string): string {
  switch (fieldPath) {
    case 'metadata.namespace':
      return ctx.namespace;
    case 'metadata.name':
      return ctx.podName;
    case 'spec.serviceAccountName':
      return ctx.podSpec.serviceAccountName ?? 'default';
    case 'spec.nodeName':
      return 'rehearsal-node';
    case 'status.podIP':
    case 'status.hostIP':
      return '127.0.0.1';
  }
  const label = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (label) return ctx.podMetadata?.[label[1] as 'labels' | 'annotations']?.[label[2]!] ?? '';
  throw new ContainerConfigError(`${variable}: unsupported fieldRef ${fieldPath}`);
}

/**
 * Expands `$(VAR)` references to variables defined earlier, as the kubelet does: `$$` escapes, and a reference to
 * an unknown variable stays as written.
 */
export function expandReferences(value: string, defined: ReadonlyMap<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    return name !== undefined && defined.has(name) ? defined.get(name)! : match;
  });
}

/**
 * The container's environment as the kubelet builds it: envFrom first (in order), then env (in order, later
 * entries win), with secretKeyRef/configMapKeyRef resolved from the rendered objects and $(VAR) expanded.
 */
export function resolveEnv(container: Container, ctx: EnvContext): Map<string, string> {
  const env = new Map<string, string>();
  for (const source of container.envFrom ?? []) {
    const ref = source.configMapRef ?? source.secretRef;
    const kind = source.configMapRef ? 'ConfigMap' : 'Secret';
    if (!ref) continue;
    const object = findObject(ctx, kind, ref.name);
    if (!object) {
      if (ref.optional || ctx.placeholders) continue;
      throw new ContainerConfigError(`envFrom: ${kind} ${ref.name} does not exist and is not optional`);
    }
    for (const [key, value] of Object.entries(objectData(object)))
      env.set(`${source.prefix ?? ''}${key}`, value);
  }
  for (const variable of container.env ?? []) {
    let value: string | undefined;
    if (variable.valueFrom?.secretKeyRef) {
      value = keyRef(ctx, 'Secret', variable.valueFrom.secretKeyRef, variable.name);
    } else if (variable.valueFrom?.configMapKeyRef) {
      value = keyRef(ctx, 'ConfigMap', variable.valueFrom.configMapKeyRef, variable.name);
    } else if (variable.valueFrom?.fieldRef) {
      value = fieldValue(ctx, variable.valueFrom.fieldRef.fieldPath, variable.name);
    } else if (variable.valueFrom) {
      throw new ContainerConfigError(
        `${variable.name}: unsupported valueFrom ${JSON.stringify(variable.valueFrom)}`,
      );
    } else {
      value = expandReferences(variable.value ?? '', env);
    }
    // A missing optional key leaves the variable as it was (unset, or from envFrom), like the kubelet.
    if (value !== undefined) env.set(variable.name, value);
  }
  return env;
}

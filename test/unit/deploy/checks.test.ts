import {
  artifactProblems,
  configMapProblems,
  probeProblems,
  rbacProblems,
  securityProblems,
  tokenProblems,
  type Identity,
} from '../../support/deploy/checks';
import { podTemplates } from '../../support/deploy/pod-env';
import type { K8sObject } from '../../support/deploy/render';

const id: Identity = {
  configMapName: 'mg-models',
  initServiceAccount: 'mg-init',
  unprivilegedServiceAccount: 'mg',
};
const NS = 'prod';

const strict = () => ({
  runAsNonRoot: true,
  runAsUser: 10001,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
});

/** A small manifest set that satisfies every check; each test breaks one rule. */
function good(): K8sObject[] {
  const mounts = [
    { name: 'artifact', mountPath: '/var/run/modelgate' },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  const env = [
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: 'MODELS_FILE', value: '/var/run/modelgate/models.json' },
  ];
  return [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'mg' },
      automountServiceAccountToken: false,
    },
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'mg-init' },
      automountServiceAccountToken: false,
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'mg-models' } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'mg-init' },
      rules: [
        {
          apiGroups: [''],
          resources: ['configmaps'],
          resourceNames: ['mg-models'],
          verbs: ['get', 'update', 'patch'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'mg-init' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'mg-init' },
      subjects: [{ kind: 'ServiceAccount', name: 'mg-init', namespace: NS }],
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'mg' },
      spec: {
        template: {
          metadata: {},
          spec: {
            serviceAccountName: 'mg-init',
            automountServiceAccountToken: false,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 10001,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            terminationGracePeriodSeconds: 45,
            initContainers: [
              {
                name: 'init',
                command: ['modelgate-init'],
                args: ['all'],
                env: [...env, { name: 'MODELS_CONFIGMAP', value: '$(POD_NAMESPACE)/mg-models' }],
                securityContext: strict(),
                volumeMounts: [
                  ...mounts,
                  {
                    name: 'token',
                    mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
                    readOnly: true,
                  },
                ],
              },
            ],
            containers: [
              {
                name: 'app',
                command: ['modelgate-app'],
                ports: [{ name: 'http', containerPort: 8080 }],
                env: [
                  ...env,
                  { name: 'PORT', value: '8080' },
                  { name: 'MODELS_CONFIGMAP_DIR', value: '/etc/models' },
                ],
                startupProbe: { httpGet: { path: '/livez', port: 'http' } },
                livenessProbe: { httpGet: { path: '/livez', port: 'http' } },
                readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 5 },
                lifecycle: { preStop: { sleep: { seconds: 5 } } },
                securityContext: strict(),
                volumeMounts: [...mounts, { name: 'models', mountPath: '/etc/models', readOnly: true }],
              },
            ],
            volumes: [
              { name: 'artifact', emptyDir: {} },
              { name: 'tmp', emptyDir: {} },
              { name: 'models', configMap: { name: 'mg-models', optional: true } },
              { name: 'token', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } },
            ],
          },
        },
      },
    },
  ];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests poke into loosely typed manifests
type Pod = { [key: string]: any };
const podOf = (objects: K8sObject[]): Pod => (objects[5]!.spec as Pod).template.spec;
const app = (objects: K8sObject[]): Pod => podOf(objects).containers[0];
const init = (objects: K8sObject[]): Pod => podOf(objects).initContainers[0];
const role = (objects: K8sObject[]): Pod => (objects[3]!.rules as Pod[])[0]!;

function allChecks(objects: K8sObject[]): string[] {
  const pod = podTemplates(objects)[0]!;
  return [
    ...securityProblems(objects),
    ...rbacProblems(objects, id),
    ...tokenProblems(objects, id),
    ...configMapProblems(objects, id, NS),
    ...artifactProblems(pod, objects, NS),
    ...probeProblems(pod, objects, NS),
  ];
}

describe('manifest checks', () => {
  it('accept the well-formed manifests', () => {
    expect(allChecks(good())).toEqual([]);
  });

  const breaks: [string, (o: K8sObject[]) => void, RegExp][] = [
    [
      'a root user',
      (o) => (app(o).securityContext.runAsUser = 0),
      /runAsUser is not a numeric non-root user/,
    ],
    [
      'a writable root filesystem',
      (o) => (init(o).securityContext.readOnlyRootFilesystem = false),
      /readOnlyRootFilesystem/,
    ],
    [
      'kept capabilities',
      (o) => (app(o).securityContext.capabilities = { drop: ['NET_RAW'] }),
      /do not drop ALL/,
    ],
    [
      'privilege escalation',
      (o) => delete app(o).securityContext.allowPrivilegeEscalation,
      /allowPrivilegeEscalation/,
    ],
    ['no seccomp profile', (o) => delete podOf(o).securityContext.seccompProfile, /pod seccompProfile/],
    ['/tmp on the root filesystem', (o) => app(o).volumeMounts.splice(1, 1), /\/tmp is not an emptyDir/],
    [
      'an automounted token',
      (o) => delete podOf(o).automountServiceAccountToken,
      /automountServiceAccountToken is not false/,
    ],
    ['a list verb', (o) => role(o).verbs.push('list'), /verbs/],
    ['a create verb instead of patch', (o) => (role(o).verbs = ['get', 'update', 'create']), /verbs/],
    ['no resourceNames', (o) => delete role(o).resourceNames, /resourceNames/],
    ['secrets access', (o) => role(o).resources.push('secrets'), /resources/],
    [
      'a second rule',
      (o) => (o[3]!.rules as Pod[]).push({ apiGroups: [''], resources: ['pods'], verbs: ['get'] }),
      /one rule/,
    ],
    [
      'a ClusterRole',
      (o) =>
        o.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'x' } }),
      /cluster-wide/,
    ],
    [
      'the app bound to the Role',
      (o) => (o[4]!.subjects as Pod[]).push({ kind: 'ServiceAccount', name: 'mg' }),
      /subjects/,
    ],
    [
      'an app SA that mounts tokens',
      (o) => delete o[0]!.automountServiceAccountToken,
      /ServiceAccount\/mg: automount/,
    ],
    [
      'a token in the app container',
      (o) =>
        app(o).volumeMounts.push({
          name: 'token',
          mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
        }),
      /container app mounts a ServiceAccount token/,
    ],
    [
      'a token under the app ServiceAccount',
      (o) => (podOf(o).serviceAccountName = 'mg'),
      /runs as mg, not mg-init/,
    ],
    [
      'MODELS_CONFIGMAP naming another ConfigMap',
      (o) => (init(o).env[2].value = '$(POD_NAMESPACE)/other'),
      /MODELS_CONFIGMAP=prod\/other/,
    ],
    ['a required ConfigMap volume', (o) => (podOf(o).volumes[2].configMap.optional = false), /not optional/],
    [
      'the volume of another ConfigMap',
      (o) => (podOf(o).volumes[2].configMap.name = 'other'),
      /is not the models ConfigMap/,
    ],
    ['no pre-created ConfigMap', (o) => o.splice(2, 1), /is not pre-created/],
    [
      'MODELS_FILE outside the emptyDir',
      (o) => (app(o).env[1].value = '/data/models.json'),
      /not in an emptyDir/,
    ],
    [
      'readiness on /livez',
      (o) => (app(o).readinessProbe.httpGet.path = '/livez'),
      /readinessProbe path \/livez, want \/readyz/,
    ],
    ['liveness on /readyz', (o) => (app(o).livenessProbe.httpGet.path = '/readyz'), /livenessProbe path/],
    ['a probe port the app does not listen on', (o) => (app(o).env[2].value = '9090'), /PORT=9090/],
    [
      'an unknown named port',
      (o) => (app(o).startupProbe.httpGet.port = 'metrics'),
      /port metrics is not a container port/,
    ],
    ['no preStop delay', (o) => delete app(o).lifecycle, /no preStop sleep/],
    [
      'a grace period shorter than the drain',
      (o) => (podOf(o).terminationGracePeriodSeconds = 30),
      /terminationGracePeriodSeconds 30/,
    ],
  ];

  it.each(breaks)('report %s', (_name, breakIt, message) => {
    const objects = good();
    breakIt(objects);
    const problems = allChecks(objects);
    expect(problems.join('\n')).toMatch(message);
  });
});

import {
  ContainerConfigError,
  expandReferences,
  objectData,
  resolveEnv,
  type Container,
  type EnvContext,
} from '../../support/deploy/pod-env';
import type { K8sObject } from '../../support/deploy/render';

const secret: K8sObject = {
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'creds' },
  data: {
    DATABASE_URL: Buffer.from('postgres://a:b@db/x').toString('base64'),
    SHARED: Buffer.from('data').toString('base64'),
  },
  stringData: { SHARED: 'stringData wins' },
};
const configMap: K8sObject = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'settings' },
  data: { LOG_LEVEL: 'debug', MODEL_SOURCE_URL: 'https://models' },
};

const ctx = (container: Container): EnvContext => ({
  objects: [secret, configMap],
  namespace: 'prod',
  podName: 'web-1',
  podSpec: { containers: [container], serviceAccountName: 'sa' },
});

describe('expandReferences', () => {
  const defined = new Map([['NS', 'prod']]);
  it('expands $(VAR) of earlier variables, keeps unknown ones and unescapes $$', () => {
    expect(expandReferences('$(NS)/models', defined)).toBe('prod/models');
    expect(expandReferences('$(NOPE)/models', defined)).toBe('$(NOPE)/models');
    expect(expandReferences('$$(NS)', defined)).toBe('$(NS)');
  });
});

describe('objectData', () => {
  it('decodes Secret data and lets stringData win', () => {
    expect(objectData(secret)).toEqual({ DATABASE_URL: 'postgres://a:b@db/x', SHARED: 'stringData wins' });
  });
});

describe('resolveEnv', () => {
  it('applies envFrom, then env in order, resolving refs, fields and $(VAR) like the kubelet', () => {
    const container: Container = {
      name: 'c',
      envFrom: [{ configMapRef: { name: 'settings' } }],
      env: [
        { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'creds', key: 'DATABASE_URL' } } },
        { name: 'MODELS_CONFIGMAP', value: '$(POD_NAMESPACE)/models' },
        { name: 'EARLY', value: '$(LATER)' },
        { name: 'LATER', value: 'x' },
        { name: 'LOG_LEVEL', value: 'info' },
        { name: 'OPTIONAL', valueFrom: { secretKeyRef: { name: 'creds', key: 'NOPE', optional: true } } },
        { name: 'SA', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
      ],
    };
    const env = resolveEnv(container, ctx(container));
    expect(Object.fromEntries(env)).toEqual({
      LOG_LEVEL: 'info',
      MODEL_SOURCE_URL: 'https://models',
      POD_NAMESPACE: 'prod',
      DATABASE_URL: 'postgres://a:b@db/x',
      MODELS_CONFIGMAP: 'prod/models',
      EARLY: '$(LATER)',
      LATER: 'x',
      SA: 'sa',
    });
  });

  it('refuses a missing required key or object, as the kubelet does (CreateContainerConfigError)', () => {
    const missingKey: Container = {
      name: 'c',
      env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'creds', key: 'NOPE' } } }],
    };
    expect(() => resolveEnv(missingKey, ctx(missingKey))).toThrow(ContainerConfigError);
    const missingObject: Container = { name: 'c', envFrom: [{ secretRef: { name: 'absent' } }] };
    expect(() => resolveEnv(missingObject, ctx(missingObject))).toThrow(/Secret absent does not exist/);
  });

  it('uses placeholders for objects outside the manifests when asked (static checks)', () => {
    const external: Container = {
      name: 'c',
      env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'ext', key: 'k' } } }],
    };
    expect(resolveEnv(external, { ...ctx(external), placeholders: true }).get('X')).toBe('<Secret:ext/k>');
  });
});

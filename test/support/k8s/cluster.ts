// Helpers for tests against the run's real kube-apiserver (started by global-setup.js).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import YAML from 'yaml';
import { describeWithTools, type ToolName } from '../tools';
import { tempDir } from '../temp.mjs';

export interface TestCluster {
  /** Admin kubeconfig (static token, system:masters: bypasses RBAC). */
  kubeconfig: string;
  server: string;
  caFile: string;
  /** The ServiceAccount token issuer (and audience). */
  issuer: string;
  etcdPid: number;
  apiserverPid: number;
}

/**
 * `describe` for a suite against the test API server that also needs `extraTools` (helm, kustomize); the body gets
 * the tools' paths. The skip rule is the repo's (test/support/tools.js): a missing tool gives a loud notice and a
 * skipped suite, or, with MODELGATE_REQUIRE_ALL=1, a failing test that says what to run.
 */
export function describeK8s(
  title: string,
  extraTools: readonly ToolName[],
  body: (paths: Record<ToolName, string>) => void,
): void {
  describeWithTools(title, ['etcd', 'kube-apiserver', ...extraTools], body);
}

export function testCluster(): TestCluster {
  const raw = process.env.MODELGATE_TEST_K8S;
  if (!raw)
    throw new Error(
      'MODELGATE_TEST_K8S is unset: run k8s tests through jest (`npx jest --selectProjects k8s`)',
    );
  return JSON.parse(raw) as TestCluster;
}

export function adminKubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(testCluster().kubeconfig);
  return kc;
}

/** A name nobody else in this run uses: `<prefix>-<8 hex>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Creates a fresh namespace (never deleted: without a controller-manager namespaces never finish terminating). */
export async function createNamespace(prefix = 'test'): Promise<string> {
  const name = uniqueName(prefix);
  await adminKubeConfig()
    .makeApiClient(k8s.CoreV1Api)
    .createNamespace({ body: { metadata: { name } } });
  return name;
}

export async function createServiceAccount(namespace: string, name: string): Promise<void> {
  await adminKubeConfig()
    .makeApiClient(k8s.CoreV1Api)
    .createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
}

/** A bound token for a ServiceAccount, issued by the API server's TokenRequest endpoint. */
export async function issueServiceAccountToken(
  namespace: string,
  serviceAccount: string,
  expirationSeconds = 3600,
): Promise<string> {
  const response = await adminKubeConfig()
    .makeApiClient(k8s.CoreV1Api)
    .createNamespacedServiceAccountToken({
      name: serviceAccount,
      namespace,
      body: { spec: { audiences: [testCluster().issuer], expirationSeconds } },
    });
  const token = response.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${serviceAccount} returned no token`);
  return token;
}

/**
 * Writes a kubeconfig that authenticates with `token` (e.g. a ServiceAccount's) into a fresh temp dir and returns
 * its path, for child processes (KUBECONFIG=...) and for helm.
 */
export function writeTokenKubeconfig(
  token: string,
  namespace = 'default',
  user = 'token-user',
  server = testCluster().server,
): string {
  const { caFile } = testCluster();
  const dir = tempDir('test-kubeconfig');
  const file = path.join(dir, 'kubeconfig');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server, 'certificate-authority': caFile } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: `${user}@test`, context: { cluster: 'test', user, namespace } }],
    'current-context': `${user}@test`,
  };
  fs.writeFileSync(file, YAML.stringify(config), { mode: 0o600 });
  return file;
}

export function kubeConfigFromFile(file: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(file);
  return kc;
}

/** Every document of a multi-document YAML stream that is an object with a kind (helm/kustomize output). */
export function parseManifests(text: string): k8s.KubernetesObject[] {
  return YAML.parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0]!.message}`);
      return doc.toJS() as unknown;
    })
    .filter((obj): obj is k8s.KubernetesObject => typeof obj === 'object' && obj !== null && 'kind' in obj);
}

/** The HTTP status of a failed client-node call (ApiException.code), or undefined for other errors. */
export function apiStatus(error: unknown): number | undefined {
  return error instanceof k8s.ApiException ? error.code : undefined;
}

/** A failed API call as one readable line: status, and the server's message. */
export function describeApiError(error: unknown): string {
  if (error instanceof k8s.ApiException) {
    const body: unknown = error.body;
    let message = typeof body === 'string' ? body : JSON.stringify(body);
    try {
      message = (JSON.parse(message) as { message?: string }).message ?? message;
    } catch {
      // not JSON: keep it as is
    }
    return `HTTP ${error.code}: ${message}`;
  }
  return error instanceof Error ? error.message : String(error);
}

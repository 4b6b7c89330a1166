// Raw requests to the test API server for what @kubernetes/client-node's generic object API cannot express:
// server-side dry-run with strict field validation, and the server's warning headers.
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { until } from '../wait';
import { parseManifests } from './cluster';

/** Exposes the generic client's discovery-backed URL building (kind -> resource path). */
class ResourcePaths extends k8s.KubernetesObjectApi {
  collectionPath(spec: k8s.KubernetesObject): Promise<string> {
    return this.specUriPath(structuredClone(spec), 'create');
  }
}

export interface RawResponse {
  status: number;
  body: unknown;
  /** The server's `Warning` headers (deprecations, PodSecurity "would violate", unknown fields under Warn). */
  warnings: string[];
}

export async function request(
  kc: k8s.KubeConfig,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<RawResponse> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const options: https.RequestOptions = { method, headers: { accept: 'application/json' } };
  await kc.applyToHTTPSOptions(options);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  if (payload) options.headers = { ...options.headers, 'content-type': contentType };
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(path, cluster.server), options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        const header = res.headers.warning;
        const warnings = (Array.isArray(header) ? header : header ? [header] : []).map((w) =>
          w.replace(/^299 - /, ''),
        );
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, warnings });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const pathCache = new WeakMap<k8s.KubeConfig, ResourcePaths>();

/** The collection URL path of an object's kind in its namespace (discovery through the API server). */
export function collectionPath(kc: k8s.KubeConfig, object: k8s.KubernetesObject): Promise<string> {
  let paths = pathCache.get(kc);
  if (!paths) {
    paths = kc.makeApiClient(ResourcePaths);
    pathCache.set(kc, paths);
  }
  return paths.collectionPath(object);
}

/**
 * POSTs the object with dryRun=All and fieldValidation=Strict: every admission plugin, defaulting, schema and
 * validation stage runs for real, unknown or duplicate fields are errors, and nothing is persisted.
 */
export async function dryRunCreate(
  kc: k8s.KubeConfig,
  object: k8s.KubernetesObject,
  namespace: string,
): Promise<RawResponse> {
  const namespaced = { ...object, metadata: { ...object.metadata, namespace } };
  const path = await collectionPath(kc, namespaced);
  return request(kc, 'POST', `${path}?dryRun=All&fieldValidation=Strict`, namespaced);
}

/** Creates the object for real (strict field validation). */
export async function create(
  kc: k8s.KubeConfig,
  object: k8s.KubernetesObject,
  namespace?: string,
): Promise<RawResponse> {
  const namespaced = namespace ? { ...object, metadata: { ...object.metadata, namespace } } : object;
  const path = await collectionPath(kc, namespaced);
  return request(kc, 'POST', `${path}?fieldValidation=Strict`, namespaced);
}

/** The server's message of a failed request, for assertion output. */
export function responseMessage(response: RawResponse): string {
  const body = response.body as { message?: string } | string;
  return typeof body === 'string' ? body : (body.message ?? JSON.stringify(body));
}

/**
 * Installs the minimal ServiceMonitor and PrometheusRule CRDs of test/fixtures/crds (idempotent: test files
 * share one API server) and waits until the API server serves both kinds.
 */
export async function installMonitoringCrds(kc: k8s.KubeConfig): Promise<void> {
  const dir = path.join(__dirname, '..', '..', 'fixtures', 'crds');
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    for (const crd of parseManifests(fs.readFileSync(path.join(dir, file), 'utf8'))) {
      const response = await create(kc, crd);
      if (response.status !== 201 && response.status !== 409) {
        throw new Error(`installing ${file}: HTTP ${response.status}: ${responseMessage(response)}`);
      }
    }
  }
  const served = await until(async () => {
    const kinds = await request(kc, 'GET', '/apis/monitoring.coreos.com/v1');
    const names = ((kinds.body as { resources?: { kind: string }[] }).resources ?? []).map((r) => r.kind);
    return names.includes('ServiceMonitor') && names.includes('PrometheusRule');
  }, 30_000);
  if (!served)
    throw new Error('the API server did not serve monitoring.coreos.com/v1 within 30s of creating the CRDs');
}

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

interface StoredConfigMap {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: { name: string; namespace: string; resourceVersion: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

export interface Fault {
  method: 'GET' | 'PUT';
  status: number;
  message?: string;
  /** Before answering, let someone else change the object (a concurrent writer), for 409 tests. */
  times?: number;
}

/**
 * A real HTTP server speaking the two ConfigMap endpoints modelgate-init uses (GET and PUT
 * /api/v1/namespaces/{ns}/configmaps/{name}) with resourceVersion conflicts (409), the 1 MiB data limit (422),
 * and injectable faults. Stands in for kube-apiserver until the control-plane tests run against the real one.
 */
export interface ConfigMapServer {
  url: string;
  requests: { method: string; path: string }[];
  /** Creates (as the chart would) or replaces the object directly. */
  put(
    namespace: string,
    name: string,
    data?: Record<string, string>,
    binaryData?: Record<string, string>,
  ): void;
  get(namespace: string, name: string): StoredConfigMap | undefined;
  faults: Fault[];
  /** Called before a PUT is handled: lets a test play a concurrent writer. */
  beforePut: (() => void) | undefined;
  /** Writes a kubeconfig pointing at this server; returns its path. */
  kubeconfig(dir: string, token?: string): string;
  close(): Promise<void>;
}

function status(res: http.ServerResponse, code: number, reason: string, message: string) {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code }));
}

const REASONS: Record<number, string> = {
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  413: 'RequestEntityTooLarge',
  422: 'Invalid',
  500: 'InternalError',
};

export async function startConfigMapServer(): Promise<ConfigMapServer> {
  const objects = new Map<string, StoredConfigMap>();
  const requests: ConfigMapServer['requests'] = [];
  const faults: Fault[] = [];
  let version = 100;
  const key = (ns: string, name: string) => `${ns}/${name}`;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '' });
      const match = /^\/api\/v1\/namespaces\/([^/]+)\/configmaps\/([^/?]+)/.exec(req.url ?? '');
      if (!match) return status(res, 404, 'NotFound', `no route ${req.url}`);
      const [, ns, name] = match as unknown as [string, string, string];
      const fault = faults.find((f) => f.method === req.method);
      if (fault) {
        fault.times = (fault.times ?? 1) - 1;
        if (fault.times <= 0) faults.splice(faults.indexOf(fault), 1);
        return status(
          res,
          fault.status,
          REASONS[fault.status] ?? 'Failure',
          fault.message ?? `injected ${fault.status}`,
        );
      }
      const stored = objects.get(key(ns, name));
      if (!stored) return status(res, 404, 'NotFound', `configmaps "${name}" not found`);
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(stored));
      }
      if (req.method === 'PUT') {
        const hook = api.beforePut;
        api.beforePut = undefined;
        hook?.();
        const current = objects.get(key(ns, name))!;
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as StoredConfigMap;
        if (body.metadata?.resourceVersion !== current.metadata.resourceVersion) {
          return status(
            res,
            409,
            'Conflict',
            `Operation cannot be fulfilled on configmaps "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          );
        }
        let size = 0;
        for (const [k, v] of Object.entries(body.data ?? {})) size += k.length + Buffer.byteLength(v);
        for (const [k, v] of Object.entries(body.binaryData ?? {}))
          size += k.length + Buffer.from(v, 'base64').length;
        if (size > 1024 * 1024) {
          return status(
            res,
            422,
            'Invalid',
            `ConfigMap "${name}" is invalid: []: Too long: must have at most 1048576 bytes`,
          );
        }
        const next: StoredConfigMap = {
          ...body,
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { ...body.metadata, name, namespace: ns, resourceVersion: String(++version) },
        };
        objects.set(key(ns, name), next);
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(next));
      }
      return status(res, 405, 'MethodNotAllowed', `${req.method} not supported`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const api: ConfigMapServer = {
    url,
    beforePut: undefined,
    requests,
    faults,
    put(namespace, name, data, binaryData) {
      objects.set(key(namespace, name), {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, namespace, resourceVersion: String(++version) },
        ...(data ? { data } : {}),
        ...(binaryData ? { binaryData } : {}),
      });
    },
    get: (namespace, name) => objects.get(key(namespace, name)),
    kubeconfig(dir, token = 'test-token') {
      const file = path.join(dir, 'kubeconfig');
      fs.writeFileSync(
        file,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          // The client refuses plain http unless TLS verification is off (there is no TLS to verify on loopback).
          clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
          users: [{ name: 'tester', user: { token } }],
          contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'tester', namespace: 'default' } }],
          'current-context': 'fake',
        }),
      );
      return file;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return api;
}

/** An unsigned JWT whose subject is a ServiceAccount, as a TokenRequest token would carry. */
export function serviceAccountToken(namespace: string, name: string): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none' })}.${part({ sub: `system:serviceaccount:${namespace}:${name}` })}.sig`;
}

// A real validating admission webhook on loopback that lets a test hold ConfigMap updates inside the API server:
// the request has been authenticated, authorized and read its resourceVersion precondition, but is not stored yet.
// That makes races deterministic: hold one writer's update, let another write meanwhile, release: the held update
// meets the real 409 Conflict from the storage layer.
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type * as k8s from '@kubernetes/client-node';
import { selfSignedCertificate } from '../certificate';
import { tempDir } from '../temp.mjs';
import { until } from '../wait';
import { uniqueName } from './cluster';
import { create, request, responseMessage } from './rest';

export interface AdmissionRequest {
  uid: string;
  operation: string;
  name: string;
  namespace: string;
  username: string;
  /** The resourceVersion the writer sent (its optimistic-concurrency precondition). */
  resourceVersion: string | undefined;
}

/** Decides when an update may proceed: resolve to admit it. */
export type GateHandler = (request: AdmissionRequest) => Promise<void> | void;

export interface AdmissionGate {
  /** Every ConfigMap UPDATE the API server sent through the gate, in arrival order. */
  requests: AdmissionRequest[];
  /** What handlers threw (the update was admitted anyway); tests assert it stays empty. */
  errors: unknown[];
  setHandler(handler: GateHandler): void;
  close(): Promise<void>;
}

interface Review {
  request: {
    uid: string;
    operation: string;
    name: string;
    namespace: string;
    userInfo: { username: string };
    object?: { metadata?: { resourceVersion?: string } };
  };
}

/**
 * Registers a ValidatingWebhookConfiguration for ConfigMap UPDATEs in `namespace` only (by a namespace label) and
 * serves it; resolves once the API server really calls it.
 */
export async function startAdmissionGate(kc: k8s.KubeConfig, namespace: string): Promise<AdmissionGate> {
  const id = uniqueName('gate');
  const dir = tempDir('test-gate');
  const { key, cert } = selfSignedCertificate(dir);
  fs.rmSync(dir, { recursive: true, force: true });
  const requests: AdmissionRequest[] = [];
  let handler: GateHandler = () => undefined;
  const errors: unknown[] = [];
  const server = https.createServer({ key, cert }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const review = JSON.parse(body) as Review;
      const seen: AdmissionRequest = {
        uid: review.request.uid,
        operation: review.request.operation,
        name: review.request.name,
        namespace: review.request.namespace,
        username: review.request.userInfo.username,
        resourceVersion: review.request.object?.metadata?.resourceVersion,
      };
      requests.push(seen);
      // Always answer (a failing handler must not hang the API server's request until the webhook timeout).
      void Promise.resolve()
        .then(() => handler(seen))
        .catch((error: unknown) => errors.push(error))
        .then(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              apiVersion: 'admission.k8s.io/v1',
              kind: 'AdmissionReview',
              response: { uid: seen.uid, allowed: true },
            }),
          );
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const label = await request(
    kc,
    'PATCH',
    `/api/v1/namespaces/${namespace}`,
    { metadata: { labels: { 'modelgate-test/gate': id } } },
    'application/merge-patch+json',
  );
  if (label.status !== 200) throw new Error(`labelling ${namespace}: ${responseMessage(label)}`);
  const webhook = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: id },
    webhooks: [
      {
        name: 'gate.modelgate.test',
        clientConfig: { url: `https://127.0.0.1:${port}/`, caBundle: Buffer.from(cert).toString('base64') },
        rules: [
          {
            operations: ['UPDATE'],
            apiGroups: [''],
            apiVersions: ['v1'],
            resources: ['configmaps'],
            scope: 'Namespaced',
          },
        ],
        namespaceSelector: { matchLabels: { 'modelgate-test/gate': id } },
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        failurePolicy: 'Fail',
        timeoutSeconds: 30,
      },
    ],
  };
  const created = await create(kc, webhook);
  if (created.status !== 201) throw new Error(`registering the webhook: ${responseMessage(created)}`);

  // The API server picks new webhooks up asynchronously: update a probe ConfigMap until the gate sees it.
  const probe = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${id}-probe` }, data: { n: '0' } };
  const made = await create(kc, probe, namespace);
  if (made.status !== 201) throw new Error(`creating the probe ConfigMap: ${responseMessage(made)}`);
  let n = 0;
  const active = await until(
    async () => {
      await request(
        kc,
        'PATCH',
        `/api/v1/namespaces/${namespace}/configmaps/${id}-probe`,
        { data: { n: String(++n) } },
        'application/merge-patch+json',
      );
      return requests.some((r) => r.name === `${id}-probe`);
    },
    30_000,
    200,
  );
  if (!active) throw new Error('the API server never called the admission gate within 30s');
  requests.length = 0;

  return {
    requests,
    errors,
    setHandler: (next) => (handler = next),
    close: async () => {
      handler = () => undefined;
      await request(
        kc,
        'DELETE',
        `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${id}`,
      );
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// The ConfigMap sink's connection to the API server over real TLS: its requests share one kept-alive connection,
// and a request whose kept connection is reset under it (the server, or something between, closed it as it was
// reused) goes once more on a new connection instead of failing the init run.
import https from 'node:https';
import type net from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { silentLogger } from '../../../core/logger';
import { createConfigMapSink } from '../../../init/models/sinks/configmap-sink';
import { selfSignedCertificate, type Certificate } from '../../support/certificate';
import { tempDir } from '../../support/temp.mjs';

const NS = 'modelgate';
const NAME = 'modelgate-models';

interface ApiServer {
  url: string;
  connections: number;
  requests: number;
  /** Resets a connection when it carries its nth request (0: never). */
  resetOnRequest: number;
  close(): Promise<void>;
}

async function startApiServer(certificate: Certificate): Promise<ApiServer> {
  const perSocket = new WeakMap<net.Socket, number>();
  const state = { connections: 0, requests: 0, resetOnRequest: 0 };
  const server = https.createServer({ key: certificate.key, cert: certificate.cert }, (req, res) => {
    const nth = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, nth);
    state.requests += 1;
    if (nth === state.resetOnRequest) {
      req.socket.destroy();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: NAME, namespace: NS, resourceVersion: '1' },
        data: {},
      }),
    );
  });
  server.on('secureConnection', () => (state.connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return Object.assign(state, {
    url: `https://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

describe('the ConfigMap sink over TLS', () => {
  let certificate: Certificate;
  let server: ApiServer;
  const sink = () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'c', server: server.url, caData: Buffer.from(certificate.cert).toString('base64') }],
      users: [{ name: 'u', token: 'token' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    return createConfigMapSink({ kubeConfig, namespace: NS, name: NAME, logger: silentLogger() });
  };

  beforeAll(() => {
    certificate = selfSignedCertificate(tempDir('kube-tls'));
  });
  beforeEach(async () => {
    server = await startApiServer(certificate);
  });
  afterEach(async () => {
    await server.close();
  });

  it('three reads, one connection', async () => {
    const s = sink();
    for (let i = 0; i < 3; i++) await expect(s.read()).resolves.toEqual({ state: 'missing' });
    expect(server.requests).toBe(3);
    expect(server.connections).toBe(1);
  });

  it('a kept connection reset under a request: the request goes again on a new connection', async () => {
    server.resetOnRequest = 2;
    const s = sink();
    await expect(s.read()).resolves.toEqual({ state: 'missing' });
    await expect(s.read()).resolves.toEqual({ state: 'missing' });
    expect(server.requests).toBe(3);
    expect(server.connections).toBe(2);
  });

  it('a reset again on the new connection is the error it was, naming the server', async () => {
    server.resetOnRequest = 1;
    await expect(sink().read()).rejects.toThrow(`cannot reach ${server.url}`);
    expect(server.connections).toBe(2);
  });
});

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { silentLogger } from '../../../core/logger';
import { buildArtifact, type Artifact } from '../../../core/artifact/schema';
import { artifactModels } from '../../support/models.mjs';
import { CONFIGMAP_GZIP_KEY, CONFIGMAP_KEY } from '../../../core/artifact/configmap';
import { createConfigMapSink } from '../../../init/models/sinks/configmap-sink';
import { tempDir } from '../../support/temp.mjs';
import {
  serviceAccountToken,
  startConfigMapServer,
  type ConfigMapServer,
} from '../../support/init/configmap-server';

const NS = 'modelgate';
const NAME = 'modelgate-models';

function artifact(n: number, checkedAt = '2026-11-24T10:00:00.000Z', idLength = 12): Artifact {
  const models = artifactModels(n, {
    fields: (i) => ({
      ...(idLength > 12 ? { id: `${i}-${randomBytes(idLength / 2).toString('hex')}` } : {}),
      tags: [],
      createdAt: i,
      stake: '1',
      fee: null,
    }),
  });
  return buildArtifact({
    models,
    source: { url: 'u', etag: null, lastModified: null },
    fetchedAt: checkedAt,
  });
}

describe('ConfigMap sink against an HTTP server speaking the ConfigMap endpoints', () => {
  let server: ConfigMapServer;
  const sink = (token?: string) => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(server.kubeconfig(tempDir('kube'), token));
    return createConfigMapSink({ kubeConfig, namespace: NS, name: NAME, logger: silentLogger() });
  };

  beforeEach(async () => {
    server = await startConfigMapServer();
  });
  afterEach(async () => {
    await server.close();
  });

  it('200: reads the pre-created empty ConfigMap as missing, replaces it, reads the artifact back', async () => {
    server.put(NS, NAME, { unrelated: 'kept' });
    const s = sink();
    await expect(s.read()).resolves.toEqual({ state: 'missing' });
    await expect(s.write(artifact(2))).resolves.toBe('written');
    expect(server.get(NS, NAME)?.data).toEqual({ unrelated: 'kept', [CONFIGMAP_KEY]: expect.any(String) });
    await expect(s.read()).resolves.toEqual({ state: 'valid', artifact: artifact(2) });
    expect(server.requests.filter((r) => r.method === 'PUT')).toHaveLength(1);
  });

  it('404: says the chart or kustomize creates the ConfigMap, and never creates it', async () => {
    await expect(sink().write(artifact(1))).rejects.toThrow(
      /ConfigMap modelgate\/modelgate-models does not exist; modelgate-init only updates it, the Helm chart or the kustomize base creates it/,
    );
    expect(server.requests.map((r) => r.method)).toEqual(['GET']);
  });

  it('409: re-reads and retries when someone else changed the object', async () => {
    server.put(NS, NAME);
    server.beforePut = () => server.put(NS, NAME, { unrelated: 'other writer' });
    await expect(sink().write(artifact(2))).resolves.toBe('written');
    expect(server.requests.map((r) => r.method)).toEqual(['GET', 'PUT', 'GET', 'PUT']);
    expect(server.get(NS, NAME)?.data).toMatchObject({ unrelated: 'other writer' });
  });

  it('409: keeps what a concurrent writer stored when it is newer', async () => {
    server.put(NS, NAME);
    const newer = artifact(3, '2026-11-24T11:00:00.000Z');
    server.beforePut = () => server.put(NS, NAME, { [CONFIGMAP_KEY]: JSON.stringify(newer) });
    await expect(sink().write(artifact(2, '2026-11-24T10:30:00.000Z'))).resolves.toBe('kept-newer');
    await expect(sink().read()).resolves.toEqual({ state: 'valid', artifact: newer });
  });

  it('403: names the ServiceAccount, the verb and the object', async () => {
    server.put(NS, NAME);
    server.faults.push({ method: 'PUT', status: 403, message: 'configmaps "modelgate-models" is forbidden' });
    await expect(sink(serviceAccountToken('modelgate', 'modelgate-init')).write(artifact(1))).rejects.toThrow(
      /^forbidden: the ServiceAccount modelgate\/modelgate-init may not update ConfigMap modelgate\/modelgate-models .*grant get and update on this ConfigMap/,
    );
  });

  it('403 in-cluster: names the ServiceAccount of the mounted token file', async () => {
    const tokenFile = path.join(tempDir('sa'), 'token');
    fs.writeFileSync(tokenFile, serviceAccountToken('prod', 'modelgate-init'));
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromClusterAndUser(
      { name: 'inCluster', server: server.url, skipTLSVerify: true },
      { name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile } } },
    );
    server.faults.push({ method: 'GET', status: 403 });
    const s = createConfigMapSink({ kubeConfig, namespace: NS, name: NAME, logger: silentLogger() });
    await expect(s.read()).rejects.toThrow(
      /^forbidden: the ServiceAccount prod\/modelgate-init may not get ConfigMap modelgate\/modelgate-models/,
    );
  });

  it('403 with user credentials: names the current user', async () => {
    server.faults.push({ method: 'GET', status: 403 });
    await expect(sink('not-a-jwt').read()).rejects.toThrow(
      /^forbidden: the current user \(kubeconfig user "tester"\) may not get ConfigMap modelgate\/modelgate-models/,
    );
  });

  it.each([413, 422])(
    '%i from the API server: says the catalog is too large for a ConfigMap',
    async (code) => {
      server.put(NS, NAME);
      server.faults.push({
        method: 'PUT',
        status: code,
        message: 'Too long: must have at most 1048576 bytes',
      });
      await expect(sink().write(artifact(2))).rejects.toThrow(
        new RegExp(
          `refused to store the artifact in ConfigMap modelgate/modelgate-models \\(${code}: Too long.*1 MiB limit`,
        ),
      );
    },
  );

  it('stores a large artifact gzip-compressed in binaryData and reads it back', async () => {
    server.put(NS, NAME);
    const big = artifact(4000);
    expect(JSON.stringify(big).length).toBeGreaterThan(256 * 1024);
    await sink().write(big);
    const stored = server.get(NS, NAME)!;
    expect(Object.keys(stored.binaryData ?? {})).toEqual([CONFIGMAP_GZIP_KEY]);
    expect(stored.data?.[CONFIGMAP_KEY]).toBeUndefined();
    await expect(sink().read()).resolves.toEqual({ state: 'valid', artifact: big });
  });

  it('refuses, before sending, an artifact above the 1 MiB object limit even compressed', async () => {
    server.put(NS, NAME);
    await expect(sink().write(artifact(20000, undefined, 128))).rejects.toThrow(
      /needs \d+ bytes in ConfigMap modelgate\/modelgate-models even gzip-compressed, above the 1 MiB ConfigMap limit/,
    );
    expect(server.requests.filter((r) => r.method === 'PUT')).toHaveLength(0);
  });

  it('says where it could not connect when the API server is down', async () => {
    const s = sink();
    await server.close();
    await expect(s.read()).rejects.toThrow(/cannot reach http:\/\/127\.0\.0\.1:\d+ to get ConfigMap/);
    server = await startConfigMapServer();
  });
});

import { Registry } from 'prom-client';
import { serializeArtifact } from '../../../core/artifact/schema';
import { silentLogger } from '../../../core/logger';
import type { ArtifactLocation, ReadResult } from '../../../app/artifact/sources';
import { artifactLocations } from '../../../app/artifact/sources';
import { createArtifactStore } from '../../../app/artifact/store';
import { createMetrics } from '../../../app/metrics';
import { makeArtifact } from '../../support/artifacts';

/** Locations backed by a map instead of files. */
function fakeFiles() {
  const files = new Map<string, string>();
  let reads = 0;
  const read = async (location: ArtifactLocation): Promise<ReadResult> => {
    reads += 1;
    const text = files.get(location.path);
    if (text === undefined) return { kind: 'missing' };
    return { kind: 'text', text, fingerprint: `${text.length}:${text}` };
  };
  return { files, read, reads: () => reads };
}

async function counts(registry: Registry) {
  const metric = await createMetrics(registry).reloads.get();
  return Object.fromEntries(metric.values.map((v) => [v.labels.result, v.value]));
}

describe('artifact store', () => {
  const locations = artifactLocations('/run/models.json', '/cm');

  function setup() {
    const registry = new Registry();
    const fake = fakeFiles();
    const store = createArtifactStore({
      locations,
      logger: silentLogger(),
      metrics: createMetrics(registry),
      read: fake.read,
      now: () => 1_000,
      limits: { maxAgeMs: 600_000, maxStaleMs: 86_400_000 },
    });
    return { registry, store, ...fake };
  }

  it('reads MODELS_FILE and both ConfigMap keys', () => {
    expect(locations).toEqual([
      { path: '/run/models.json', gzip: false },
      { path: '/cm/models.json', gzip: false },
      { path: '/cm/models.json.gz', gzip: true },
    ]);
    expect(artifactLocations('/run/models.json', undefined)).toHaveLength(1);
  });

  it('has no catalog and a reason naming each location until an artifact is valid', async () => {
    const { store, files } = setup();
    await store.reload();
    expect(store.current()).toBeUndefined();
    expect(store.problem()).toBe(
      'no valid model artifact (/run/models.json: missing; /cm/models.json: missing; /cm/models.json.gz: missing); run modelgate-init models or all to write one',
    );
    files.set('/run/models.json', '{"formatVersion":1}');
    await store.reload();
    expect(store.problem()).toMatch(/\/run\/models\.json: invalid artifact: /);
  });

  it('serves the newest valid artifact of all locations', async () => {
    const { store, files, registry } = setup();
    const older = makeArtifact({ prefix: 'older', checkedAt: '2026-11-24T10:00:00Z' });
    const newer = makeArtifact({ prefix: 'newer', checkedAt: '2026-11-24T11:00:00Z' });
    files.set('/run/models.json', serializeArtifact(older));
    files.set('/cm/models.json', serializeArtifact(newer));
    await store.reload();
    expect(store.current()?.artifact.sha256).toBe(newer.sha256);
    expect(store.current()?.origin).toBe('/cm/models.json');
    expect(store.current()?.byId.get('newer-1')?.upstreamId).toMatch(/^0x0+1$/);
    expect(store.problem()).toBeUndefined();
    expect(await counts(registry)).toEqual({ applied: 1, ignored: 1, rejected: 0 });
  });

  it('never replaces a good catalog with an invalid or an older one', async () => {
    const { store, files, registry } = setup();
    const good = makeArtifact({ checkedAt: '2026-11-24T11:00:00Z' });
    files.set('/run/models.json', serializeArtifact(good));
    await store.reload();
    files.set('/cm/models.json', serializeArtifact({ ...good, sha256: 'f'.repeat(64) }));
    await store.reload();
    files.set(
      '/cm/models.json',
      serializeArtifact(makeArtifact({ prefix: 'old', checkedAt: '2026-11-24T09:00:00Z' })),
    );
    await store.reload();
    files.delete('/run/models.json');
    await store.reload();
    expect(store.current()?.artifact.sha256).toBe(good.sha256);
    expect(await counts(registry)).toEqual({ applied: 1, ignored: 1, rejected: 1 });
  });

  it('judges unchanged content once, however often it is re-read', async () => {
    const { store, files, registry } = setup();
    files.set('/run/models.json', '{"not":"valid"}');
    await store.reload();
    await store.reload();
    await store.reload();
    expect(await counts(registry)).toEqual({ applied: 0, ignored: 0, rejected: 1 });
  });

  it('coalesces reloads requested while one runs into one more pass', async () => {
    const { store, files, reads } = setup();
    files.set('/run/models.json', serializeArtifact(makeArtifact()));
    await Promise.all([store.reload(), store.reload(), store.reload(), store.reload()]);
    // One pass reads three locations; the three extra requests collapse into a single second pass.
    expect(reads()).toBe(6);
  });

  it('publishes the model count and the artifact info with a credential-free source', async () => {
    const { store, files, registry } = setup();
    const artifact = makeArtifact({ count: 7, url: 'https://u:pw@src.example.test/m.json?sig=abc' });
    files.set('/run/models.json', serializeArtifact(artifact));
    await store.reload();
    const text = await registry.metrics();
    expect(text).toContain('modelgate_models 7');
    expect(text).toContain(
      `modelgate_models_artifact_info{sha256="${artifact.sha256}",source="https://src.example.test/m.json"} 1`,
    );
  });
});

import { buildArtifact, type ArtifactModel } from '../../../core/artifact/schema';
import { createSnapshot, staticCatalog, type Catalog } from '../../../app/catalog/catalog';
import { artifactModel } from '../models.mjs';

const model = (id: string, upstreamId: string, extra: Partial<ArtifactModel> = {}): ArtifactModel =>
  artifactModel(id, { upstreamId, tags: [], owner: '0xowner', stake: '100000000000000000000', ...extra });

/** A catalog with the awkward names real feeds have, and models that steer the test upstream's behaviour. */
export const testModels: ArtifactModel[] = [
  model('mistral-31-24b', '0x' + 'a'.repeat(64), { tags: ['Mistral'] }),
  model('llama 3.3 70b', '0x' + 'b'.repeat(64)),
  model('meta/llama:8b', '0x' + 'c'.repeat(64)),
  model('alias-of-mistral', '0x' + 'a'.repeat(64)),
  model('text-embedding', '0x' + 'e'.repeat(64), { type: 'EMBEDDING' }),
  model('hang-model', 'behaviour:hang'),
  model('endless-model', 'behaviour:endless'),
  model('failing-model', 'behaviour:500'),
  model('unauthorized-model', 'behaviour:401'),
  model('limited-model', 'behaviour:429'),
  model('dropping-model', 'behaviour:drop'),
  model('flood-model', 'behaviour:flood'),
  model('burst-model', 'behaviour:burst'),
  model('gzip-model', 'behaviour:gzip'),
  model('zstd-model', 'behaviour:zstd'),
  model('held-model', 'behaviour:held'),
  model('cut-model', 'behaviour:cut'),
];

export function testCatalog(models: ArtifactModel[] = testModels): Catalog {
  const artifact = buildArtifact({
    models,
    source: { url: 'file:///test/models.json', etag: null, lastModified: null },
    fetchedAt: new Date().toISOString(),
  });
  return staticCatalog(createSnapshot(artifact, '/test/models.json'));
}

import { buildArtifact, type Artifact, type ArtifactModel } from '../../core/artifact/schema';

/** `count` distinct models named `<prefix>-<n>`. */
export function makeModels(count: number, prefix = 'model'): ArtifactModel[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${i}`,
    upstreamId: `0x${i.toString(16).padStart(64, '0')}`,
    tags: ['test'],
    type: 'LLM' as const,
    createdAt: 1_745_330_395 + i,
    owner: null,
    stake: '100000000000000000',
    fee: '1',
  }));
}

/** A valid artifact; `checkedAt` decides which of two artifacts is newer. */
export function makeArtifact(
  options: { count?: number; prefix?: string; checkedAt?: string; url?: string } = {},
): Artifact {
  const checkedAt = options.checkedAt ?? new Date().toISOString();
  return buildArtifact({
    models: makeModels(options.count ?? 3, options.prefix),
    source: {
      url: options.url ?? 'https://models.example.test/active_models.json',
      etag: '"v1"',
      lastModified: null,
    },
    fetchedAt: checkedAt,
    checkedAt,
  });
}

import {
  buildArtifact,
  parseArtifact,
  serializeArtifact,
  isNewer,
  type ArtifactModel,
} from '../../core/artifact/schema';
import { artifactModel } from '../support/models.mjs';

const model = (id: string, extra: Partial<ArtifactModel> = {}): ArtifactModel =>
  artifactModel(id, {
    upstreamId: `0x${'a'.repeat(64)}`,
    tags: ['Mistral'],
    owner: '0xowner',
    stake: '123456789012345678901234567890',
    ...extra,
  });

const source = { url: 'https://models.example/active_models.json', etag: '"v1"', lastModified: null };

describe('artifact contract', () => {
  it('round-trips a built artifact and keeps big stakes exact', () => {
    const artifact = buildArtifact({
      models: [model('b'), model('a')],
      source,
      fetchedAt: '2026-11-24T10:00:00.000Z',
    });
    const parsed = parseArtifact(serializeArtifact(artifact));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.artifact.models.map((m) => m.id)).toEqual(['a', 'b']);
    expect(parsed.artifact.models[0]!.stake).toBe('123456789012345678901234567890');
  });

  it('hashes equal catalogs equally whatever their order', () => {
    const one = buildArtifact({
      models: [model('a'), model('b')],
      source,
      fetchedAt: '2026-11-24T10:00:00Z',
    });
    const two = buildArtifact({
      models: [model('b'), model('a')],
      source,
      fetchedAt: '2026-11-25T10:00:00Z',
    });
    expect(one.sha256).toBe(two.sha256);
  });

  it.each([
    ['not JSON', '{', /not JSON/],
    [
      'an empty catalog',
      JSON.stringify({
        ...buildArtifact({ models: [model('a')], source, fetchedAt: '2026-11-24T10:00:00Z' }),
        models: [],
      }),
      /models/,
    ],
    [
      'a wrong format version',
      JSON.stringify({
        ...buildArtifact({ models: [model('a')], source, fetchedAt: '2026-11-24T10:00:00Z' }),
        formatVersion: 2,
      }),
      /formatVersion/,
    ],
    [
      'a tampered model',
      JSON.stringify({
        ...buildArtifact({ models: [model('a')], source, fetchedAt: '2026-11-24T10:00:00Z' }),
        models: [model('z')],
      }),
      /sha256 does not match/,
    ],
    [
      'a duplicate id',
      JSON.stringify(
        buildArtifact({ models: [model('a'), model('a')], source, fetchedAt: '2026-11-24T10:00:00Z' }),
      ),
      /duplicate model id/,
    ],
    [
      'an unknown field',
      JSON.stringify({
        ...buildArtifact({ models: [model('a')], source, fetchedAt: '2026-11-24T10:00:00Z' }),
        extra: 1,
      }),
      /artifact/,
    ],
  ])('rejects %s', (_label, text, reason) => {
    const parsed = parseArtifact(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });

  it('orders artifacts by checkedAt', () => {
    const old = buildArtifact({ models: [model('a')], source, fetchedAt: '2026-11-24T10:00:00Z' });
    const checked = { ...old, checkedAt: '2026-11-24T11:00:00Z' };
    expect(isNewer(checked, old)).toBe(true);
    expect(isNewer(old, checked)).toBe(false);
    expect(isNewer(old, undefined)).toBe(true);
  });
});

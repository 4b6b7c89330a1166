import { gzipSync } from 'node:zlib';
import { gunzipArtifact, MAX_INFLATED_BYTES } from '../../core/artifact/configmap';
import { artifactAgeMs, freshness, isNewer, newest } from '../../core/artifact/freshness';
import {
  buildArtifact,
  parseArtifact,
  serializeArtifact,
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

describe('newest', () => {
  const at = (checkedAt: string, name: string) => ({ name, checkedAt });

  it('picks the latest checkedAt, the first of equals, and nothing from nothing', () => {
    const list = [
      at('2026-11-24T10:00:00Z', 'a'),
      at('2026-11-24T12:00:00Z', 'b'),
      at('2026-11-24T12:00:00Z', 'c'),
    ];
    expect(newest(list)?.name).toBe('b');
    expect(newest([])).toBeUndefined();
    expect(
      newest([{ artifact: list[0]! }, { artifact: list[1]! }], (item) => item.artifact)?.artifact.name,
    ).toBe('b');
  });
});

describe('freshness', () => {
  const NOW = Date.parse('2026-11-24T12:00:00Z');
  const limits = { maxAgeMs: 10 * 60_000, maxStaleMs: 60 * 60_000 };
  const checked = (agoMs: number, stale = false) => ({
    checkedAt: new Date(NOW - agoMs).toISOString(),
    stale,
  });

  it.each([
    ['checked just now', checked(0), 'fresh'],
    ['checked MODELS_MAX_AGE ago', checked(10 * 60_000), 'fresh'],
    ['checked in the future (clock skew)', checked(-60_000), 'fresh'],
    ['older than MODELS_MAX_AGE', checked(10 * 60_000 + 1), 'stale'],
    ['marked stale by last-known-good, however recent', checked(0, true), 'stale'],
    ['checked MODELS_MAX_STALE ago', checked(60 * 60_000), 'stale'],
    ['older than MODELS_MAX_STALE', checked(60 * 60_000 + 1), 'expired'],
    ['marked and older than MODELS_MAX_STALE', checked(2 * 60 * 60_000, true), 'expired'],
  ] as const)('%s: %s', (_label, artifact, expected) => {
    expect(freshness(artifact, limits, NOW)).toBe(expected);
  });

  it('a recent unmarked artifact is fresh even when MODELS_MAX_STALE is shorter than MODELS_MAX_AGE', () => {
    expect(freshness(checked(5 * 60_000), { maxAgeMs: 10 * 60_000, maxStaleMs: 0 }, NOW)).toBe('fresh');
    expect(freshness(checked(11 * 60_000), { maxAgeMs: 10 * 60_000, maxStaleMs: 0 }, NOW)).toBe('expired');
  });

  it('measures age from checkedAt', () => {
    expect(artifactAgeMs(checked(90_000), NOW)).toBe(90_000);
  });
});

describe('the ConfigMap gzip decoder', () => {
  it('inflates models.json.gz', () => {
    expect(gunzipArtifact(gzipSync('{"formatVersion":1}'))).toEqual({
      ok: true,
      text: '{"formatVersion":1}',
    });
  });

  it('refuses what is not gzip', () => {
    expect(gunzipArtifact(Buffer.from('plain text'))).toEqual({
      ok: false,
      reason: expect.stringMatching(/^not gzip: /),
    });
  });

  it(`refuses to inflate beyond ${MAX_INFLATED_BYTES} bytes (a gzip bomb)`, () => {
    const bomb = gzipSync(Buffer.alloc(MAX_INFLATED_BYTES + 1));
    expect(bomb.length).toBeLessThan(128 * 1024);
    expect(gunzipArtifact(bomb)).toEqual({
      ok: false,
      reason: `inflates to more than ${MAX_INFLATED_BYTES} bytes; refused`,
    });
  });
});

import fc from 'fast-check';
import { buildArtifact, modelsSha256, parseArtifact, serializeArtifact } from '../../../core/artifact/schema';
import { acceptArtifact, parseArtifactFast } from '../../../core/artifact/fast-parse';
import { makeArtifact } from '../../support/artifacts';
import { artifactModel } from '../../support/models.mjs';

const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

/** Well-formed models, optional fields sometimes left to their defaults. */
const validModel = fc.record(
  {
    id: fc.string({ minLength: 1, maxLength: 6 }),
    upstreamId: fc.constantFrom('0xabc', '0xdef'),
    tags: maybe(fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 })),
    type: fc.constantFrom('LLM', 'EMBEDDING', 'UNKNOWN'),
    createdAt: fc.nat(),
    owner: fc.oneof(fc.constant(null), fc.string({ maxLength: 3 })),
    stake: maybe(fc.oneof(fc.constant(null), fc.bigInt({ min: 0n, max: 2n ** 80n }).map(String))),
    fee: maybe(fc.oneof(fc.constant(null), fc.constant('1'))),
  },
  { requiredKeys: ['id', 'upstreamId', 'type', 'createdAt', 'owner'] },
);

/** Models with every field sometimes wrong, missing or extra. */
const wildModel = fc.record(
  {
    id: fc.oneof(
      fc.string({ minLength: 0, maxLength: 6 }),
      fc.constantFrom('a', 'b', 'c'),
      fc.constant('x'.repeat(513)),
    ),
    upstreamId: fc.oneof(fc.constant('0xabc'), fc.string({ maxLength: 3 }), fc.integer()),
    tags: maybe(fc.oneof(fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 }), fc.constant(['ok', 1]))),
    type: fc.constantFrom('LLM', 'EMBEDDING', 'UNKNOWN', 'llm', 7),
    createdAt: fc.oneof(fc.nat(), fc.constant(-1), fc.constant(1.5), fc.constant(2 ** 60), fc.constant('1')),
    owner: fc.oneof(fc.constant(null), fc.string({ maxLength: 3 }), fc.constant(undefined), fc.constant(3)),
    stake: maybe(
      fc.oneof(
        fc.constant(null),
        fc.bigInt({ min: 0n, max: 2n ** 80n }).map(String),
        fc.constant('-1'),
        fc.constant(10),
      ),
    ),
    fee: maybe(fc.oneof(fc.constant(null), fc.constant('1'), fc.constant(' 1'))),
    extra: maybe(fc.constant('surprise')),
  },
  { requiredKeys: ['id', 'upstreamId', 'type', 'createdAt'] },
);

const model = fc.oneof({ arbitrary: validModel, weight: 12 }, { arbitrary: wildModel, weight: 1 });
/** Mostly `good`, now and then one of `bad`. */
const mostly = <T>(good: fc.Arbitrary<T>, ...bad: T[]) =>
  fc.oneof({ arbitrary: good, weight: 8 }, { arbitrary: fc.constantFrom(...bad), weight: 1 });

const artifactJson = fc
  .record({
    models: fc.oneof(
      { arbitrary: fc.array(model, { minLength: 1, maxLength: 4 }), weight: 10 },
      fc.constant([]),
    ),
    correctSha: mostly(fc.constant(true), false),
    fetchedAt: mostly(
      fc.constantFrom('2026-11-24T10:00:00.000Z', '2026-11-24T10:00:00+02:00'),
      '2026-13-40T10:00:00Z',
      'yesterday',
    ),
    checkedAt: mostly(fc.constant('2026-11-24T11:00:00Z'), '2026-11-24 11:00'),
    stale: maybe(mostly<unknown>(fc.boolean(), 'no')),
    warnings: maybe(mostly<unknown>(fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 }), [1])),
    etag: mostly<string | null | undefined>(fc.constantFrom(null, '"e"'), undefined),
    // Labels, plain URLs, and URLs an older writer stored with their secret (every reader drops it).
    url: fc.constantFrom(
      'https://s.example.test/m.json',
      `https://s.example.test/m.json#scrypt=${'ab'.repeat(32)}`,
      'https://s.example.test/m.json?token=t0ken',
      'https://u:pw@s.example.test/m.json',
      'https://s.example.test/m.json#other',
      'file:///m.json',
      'not a url',
    ),
    formatVersion: mostly(fc.constant(1), 2),
    extraTop: fc.oneof({ arbitrary: fc.constant(undefined), weight: 12 }, fc.constant(true)),
  })
  .map((r) => {
    const models = (r.models as Record<string, unknown>[]).map((m) => {
      const copy: Record<string, unknown> = { ...m };
      for (const key of Object.keys(copy)) if (copy[key] === undefined) delete copy[key];
      return copy;
    });
    let sha = 'f'.repeat(64);
    if (r.correctSha) {
      // The hash a writer would compute over the defaulted models, when they are well-formed enough to hash.
      try {
        sha = modelsSha256(
          models.map(
            (m) =>
              ({ tags: [], stake: null, fee: null, ...m }) as unknown as Parameters<
                typeof modelsSha256
              >[0][number],
          ),
        );
      } catch {
        // leave the wrong hash
      }
    }
    const json: Record<string, unknown> = {
      formatVersion: r.formatVersion,
      source: { url: r.url, etag: r.etag, lastModified: null },
      fetchedAt: r.fetchedAt,
      checkedAt: r.checkedAt,
      sha256: sha,
      models,
    };
    if (r.stale !== undefined) json.stale = r.stale;
    if (r.warnings !== undefined) json.warnings = r.warnings;
    if (r.extraTop !== undefined) json.extraTop = r.extraTop;
    return JSON.stringify(json);
  });

describe('parseArtifactFast', () => {
  it('gives exactly the verdict and the artifact of the zod schema, on valid and invalid input', () => {
    let valid = 0;
    let fast = 0;
    fc.assert(
      fc.property(artifactJson, (text) => {
        const expected = parseArtifact(text);
        if (expected.ok) valid += 1;
        if (acceptArtifact(JSON.parse(text))) fast += 1;
        expect(parseArtifactFast(text)).toEqual(expected);
      }),
      { numRuns: 2000 },
    );
    // The generator must reach the accepting side often enough for the comparison to mean something.
    expect(valid).toBeGreaterThan(50);
    expect(fast).toBeGreaterThan(50);
  });

  it('takes the fast path for what writers produce, defaults included', () => {
    const artifact = makeArtifact({ count: 50 });
    expect(acceptArtifact(JSON.parse(serializeArtifact(artifact)))).toEqual(artifact);
    const minimal = {
      formatVersion: 1,
      source: { url: 'file:///m.json', etag: null, lastModified: null },
      fetchedAt: '2026-11-24T10:00:00Z',
      checkedAt: '2026-11-24T10:00:00Z',
      models: [{ id: 'm', upstreamId: 'u', type: 'LLM', createdAt: 1, owner: null }],
    };
    const built = buildArtifact({
      models: [artifactModel('m', { upstreamId: 'u', tags: [], createdAt: 1, stake: null, fee: null })],
      source: minimal.source,
      fetchedAt: minimal.fetchedAt,
    });
    const accepted = acceptArtifact({ ...minimal, sha256: built.sha256 });
    expect(accepted).toEqual(built);
    expect(parseArtifact(JSON.stringify({ ...minimal, sha256: built.sha256 }))).toEqual({
      ok: true,
      artifact: built,
    });
  });

  it('leaves the message of a rejected artifact to the zod schema', () => {
    expect(parseArtifactFast('{"formatVersion":1')).toEqual(parseArtifact('{"formatVersion":1'));
    const result = parseArtifactFast('{"formatVersion":1}');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/^invalid artifact: /);
  });
});

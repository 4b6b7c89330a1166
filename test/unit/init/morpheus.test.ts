import { parseMorpheus, SourceFormatError } from '../../../init/models/morpheus';
import { buildArtifact, parseArtifact, serializeArtifact } from '../../../core/artifact/schema';
import { fixture } from '../../support/artifacts';

describe('morpheus source format', () => {
  const { models, warnings } = parseMorpheus(fixture('quirks.json'));
  const byName = new Map(models.map((m) => [m.id, m]));

  it('drops deleted entries and entries without Id or Name, with a warning for the latter', () => {
    expect(byName.has('retired-model')).toBe(false);
    expect(byName.has('no-id-model')).toBe(false);
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/entry 8 has no Id/),
        expect.stringMatching(/entry 9 has no Name/),
      ]),
    );
    expect(warnings.join('\n')).not.toMatch(/retired-model/);
  });

  it('keeps the newest CreatedAt when a Name appears twice, and says so', () => {
    expect(byName.get('qwen3-235b')).toMatchObject({
      upstreamId: `0x${'6'.repeat(64)}`,
      createdAt: 1746000000,
    });
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/duplicate Name "qwen3-235b": kept Id 0x6+ .* dropped Id 0x5+/),
      ]),
    );
  });

  it('keeps several Names of one Id as aliases, names with spaces, slashes and colons intact', () => {
    const llama = `0x${'4'.repeat(64)}`;
    expect(byName.get('llama 3.3 70b')?.upstreamId).toBe(llama);
    expect(byName.get('meta/llama-3.3:70b')?.upstreamId).toBe(llama);
    expect(byName.get('text-embedding: bge/m3')?.type).toBe('EMBEDDING');
  });

  it('keeps stakes above 2^53 exact', () => {
    expect(byName.get('llama 3.3 70b')?.stake).toBe('123456789012345678901234567890');
    expect(byName.get('qwen3-235b')?.stake).toBe('18446744073709551617');
    expect(byName.get('mistral-31-24b')?.stake).toBe('100000000000000000');
    expect(byName.get('mistral-31-24b')?.fee).toBe('1');
  });

  it('defaults a missing ModelType to LLM and maps an unknown one to UNKNOWN; a non-list Tags becomes []', () => {
    expect(byName.get('llama 3.3 70b')?.type).toBe('LLM');
    expect(byName.get('mystery-model')).toMatchObject({ type: 'UNKNOWN', tags: [] });
  });

  it('yields exactly the expected catalog, which is a valid artifact', () => {
    expect([...byName.keys()].sort()).toEqual(
      [
        'llama 3.3 70b',
        'meta/llama-3.3:70b',
        'mistral-31-24b',
        'mystery-model',
        'qwen3-235b',
        'text-embedding: bge/m3',
      ].sort(),
    );
    const artifact = buildArtifact({
      models,
      warnings,
      source: { url: 'https://x', etag: null, lastModified: null },
      fetchedAt: '2026-11-24T10:00:00.000Z',
    });
    expect(parseArtifact(serializeArtifact(artifact)).ok).toBe(true);
  });

  it.each([
    ['malformed.txt', /did not return JSON/],
    ['wrong-shape.json', /wrong shape: expected \{"models":\[\.\.\.\]\}/],
    ['empty.json', /no usable model \(0 entries/],
    ['all-deleted.json', /no usable model \(1 entries, 1 deleted\)/],
  ])('rejects %s', (name, message) => {
    expect(() => parseMorpheus(fixture(name))).toThrow(SourceFormatError);
    expect(() => parseMorpheus(fixture(name))).toThrow(message);
  });

  it('caps the warnings list', () => {
    const entries = Array.from({ length: 80 }, (_, i) => ({ Name: `n${i}` }));
    entries.push({ Id: '0x1', Name: 'ok' } as never);
    const result = parseMorpheus(JSON.stringify({ models: entries }));
    expect(result.warnings).toHaveLength(51);
    expect(result.warnings[50]).toBe('... and 30 more warnings');
  });
});

import fc from 'fast-check';
import { parseArtifactFast } from '../../core/artifact/fast-parse';
import { buildArtifact, parseArtifact, serializeArtifact } from '../../core/artifact/schema';
import {
  readSourceUrl,
  redactSourceUrl,
  sourceLabel,
  sourceUrlSecrets,
} from '../../core/artifact/source-url';
import { artifactModels } from '../support/models.mjs';

const PASSWORD = 'pw-0f8e1c2b9a7d6e5f4c3b2a1908f7e6d5';
const TOKEN = 'tok-9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d';
const SECRET_URL = `https://reader:${PASSWORD}@models.example.test/models.json?token=${TOKEN}&v=2`;
const LABEL = /^https:\/\/models\.example\.test\/models\.json#scrypt=[0-9a-f]{64}$/;

/** An artifact as a writer would store it with `url` as source.url, serialized. */
const storedWith = (url: string) =>
  JSON.stringify({
    ...buildArtifact({
      models: artifactModels(2),
      source: { url: 'https://placeholder.test/', etag: null, lastModified: null },
      fetchedAt: '2026-11-24T10:00:00.000Z',
    }),
    source: { url, etag: '"e"', lastModified: null },
  });

describe('source URL redaction', () => {
  it('shows a URL without user, password, query or fragment', () => {
    expect(redactSourceUrl(SECRET_URL)).toBe('https://models.example.test/models.json');
    expect(redactSourceUrl('file:///etc/models.json')).toBe('file:///etc/models.json');
    expect(redactSourceUrl('no url')).toBe('an unparsable URL');
  });

  it('labels a URL without a secret as itself, so the label is what older versions stored', () => {
    expect(sourceLabel('https://models.example.test/models.json')).toBe(
      'https://models.example.test/models.json',
    );
    expect(sourceLabel('file:///etc/models.json')).toBe('file:///etc/models.json');
  });

  it('labels a URL with a secret by its redacted form and a hash of the whole', () => {
    const label = sourceLabel(SECRET_URL);
    expect(label).toMatch(LABEL);
    expect(label).not.toContain(PASSWORD);
    expect(label).not.toContain(TOKEN);
    expect(sourceLabel(SECRET_URL)).toBe(label);
  });

  it('gives a changed password, token or query parameter another label (another source)', () => {
    const label = sourceLabel(SECRET_URL);
    for (const changed of [
      SECRET_URL.replace(PASSWORD, `${PASSWORD}x`),
      SECRET_URL.replace(TOKEN, `${TOKEN}x`),
      SECRET_URL.replace('v=2', 'v=3'),
      SECRET_URL.replace('reader:', 'writer:'),
      'https://models.example.test/models.json',
    ])
      expect(sourceLabel(changed)).not.toBe(label);
  });

  it('reads a label and a plain URL unchanged', () => {
    const label = sourceLabel(SECRET_URL);
    expect(readSourceUrl(label)).toBe(label);
    expect(readSourceUrl('https://models.example.test/m.json')).toBe('https://models.example.test/m.json');
    expect(readSourceUrl('u')).toBe('u');
  });

  it('reads a URL an older version stored with its secret as the redacted URL with no identity', () => {
    const legacy = `https://models.example.test/models.json?token=${TOKEN}`;
    expect(readSourceUrl(legacy)).toBe('https://models.example.test/models.json#redacted');
    expect(readSourceUrl(SECRET_URL)).toBe('https://models.example.test/models.json#redacted');
    expect(readSourceUrl('https://models.example.test/models.json#section')).toBe(
      'https://models.example.test/models.json#redacted',
    );
    // such an artifact is never taken for one from the configured source
    expect(readSourceUrl(legacy)).not.toBe(sourceLabel(legacy));
  });

  it('lists the parts the loggers scrub, as written and decoded', () => {
    const secrets = sourceUrlSecrets(
      'https://key%2Fone:p%40ss-word-long@h.test/m?token=a%20b%20c%20d%20e&x=1',
    );
    expect(secrets).toEqual(
      expect.arrayContaining(['key%2Fone', 'key/one', 'p%40ss-word-long', 'p@ss-word-long', 'a b c d e']),
    );
    expect(sourceUrlSecrets(undefined)).toEqual([]);
    expect(sourceUrlSecrets('https://h.test/m.json')).toEqual([]);
  });
});

describe('artifacts never carry a source secret', () => {
  it('every reader drops a secret an older writer stored, the fast path and the schema alike', () => {
    const text = storedWith(SECRET_URL);
    for (const parsed of [parseArtifact(text), parseArtifactFast(text)]) {
      expect(parsed.ok).toBe(true);
      if (!parsed.ok) continue;
      expect(parsed.artifact.source.url).toBe('https://models.example.test/models.json#redacted');
      expect(serializeArtifact(parsed.artifact)).not.toMatch(new RegExp(`${PASSWORD}|${TOKEN}`));
    }
  });

  it('a writer cannot store one either', () => {
    const built = buildArtifact({
      models: artifactModels(1),
      source: { url: SECRET_URL, etag: null, lastModified: null },
      fetchedAt: '2026-11-24T10:00:00.000Z',
    });
    expect(serializeArtifact(built)).not.toMatch(new RegExp(`${PASSWORD}|${TOKEN}`));
  });

  it('holds for any userinfo and query (property)', () => {
    const secret = fc.stringMatching(/^[A-Za-z0-9._~-]{12,24}$/);
    fc.assert(
      fc.property(secret, secret, secret, fc.boolean(), (user, password, token, label) => {
        const url = `https://${user}:${password}@src.example.test/m.json?key=${token}`;
        const text = storedWith(label ? sourceLabel(url) : url);
        const parsed = parseArtifactFast(text);
        expect(parsed).toEqual(parseArtifact(text));
        if (!parsed.ok) throw new Error(parsed.reason);
        const out = serializeArtifact(parsed.artifact);
        for (const value of [user, password, token]) expect(out).not.toContain(value);
      }),
      { numRuns: 60 },
    );
  });

  it('a labelled artifact keeps the keys and types of format version 1, which older readers check strictly', () => {
    const built = buildArtifact({
      models: artifactModels(1),
      source: { url: sourceLabel(SECRET_URL), etag: '"e"', lastModified: null },
      fetchedAt: '2026-11-24T10:00:00.000Z',
    });
    const json = JSON.parse(serializeArtifact(built)) as Record<string, unknown>;
    // The v1 shape as released (written out here, not imported, so a schema change cannot move it silently).
    expect(Object.keys(json).sort()).toEqual(
      ['checkedAt', 'fetchedAt', 'formatVersion', 'models', 'sha256', 'source', 'stale', 'warnings'].sort(),
    );
    expect(json.formatVersion).toBe(1);
    const source = json.source as Record<string, unknown>;
    expect(Object.keys(source).sort()).toEqual(['etag', 'lastModified', 'url']);
    expect(typeof source.url).toBe('string');
    // An older app shows source URLs without the fragment (its publicSourceUrl), an older init compares strings.
    const shownByOlderApp = new URL(source.url as string);
    shownByOlderApp.hash = '';
    expect(shownByOlderApp.toString()).toBe('https://models.example.test/models.json');
  });
});

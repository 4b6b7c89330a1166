import { silentLogger } from '../../../core/logger';
import { buildArtifact, type Artifact } from '../../../core/artifact/schema';
import { sourceLabel } from '../../../core/artifact/source-url';
import { createResolver, type ResolveDeps } from '../../../init/models/resolve';
import { SourceError, type SourceRequest, type SourceResponse } from '../../../init/models/source';
import type { ArtifactSink, SinkRead } from '../../../init/models/sinks/sink';
import type { Clock } from '../../../init/backoff';
import { fixture } from '../../support/artifacts';
import { artifactModel } from '../../support/models.mjs';

const MIN = 60_000;
const NOW = Date.parse('2026-11-24T12:00:00Z');
const URL = 'https://models.example/active_models.json';
const minimal = fixture('minimal.json');

function artifact(checkedAgoMs: number, extra: Partial<Artifact> = {}): Artifact {
  const at = new Date(NOW - checkedAgoMs).toISOString();
  return {
    ...buildArtifact({
      models: [artifactModel('old-model')],
      source: { url: URL, etag: '"v1"', lastModified: null },
      fetchedAt: at,
    }),
    ...extra,
  };
}

function memorySink(kind: 'configmap' | 'file', held?: Artifact): ArtifactSink & { writes: Artifact[] } {
  const writes: Artifact[] = [];
  let current = held;
  return {
    kind,
    description: kind,
    writes,
    async read(): Promise<SinkRead> {
      return current ? { state: 'valid', artifact: current } : { state: 'missing' };
    },
    async write(a) {
      writes.push(a);
      current = a;
      return 'written';
    },
  };
}

const clock: Clock = { now: () => NOW, sleep: async () => undefined, random: () => 0.5 };

function setup(options: {
  sourceUrl?: string;
  configMap?: Artifact;
  file?: Artifact;
  answer?: (request: SourceRequest) => SourceResponse;
  /** Another init holds the lock; what its flight leaves in the ConfigMap when it releases (undefined: nothing). */
  otherFlight?: { publishes: Artifact | undefined };
  /** With the scout lock; `held`: another init holds it when this one asks. */
  scout?: { held: boolean };
}) {
  /** What happened, in order: the locks, the ConfigMap reads, the requests. */
  const events: string[] = [];
  const configMap = memorySink('configmap', options.configMap);
  const readConfigMap = configMap.read.bind(configMap);
  configMap.read = async () => {
    events.push('read configmap');
    return readConfigMap();
  };
  const file = memorySink('file', options.file);
  const requests: SourceRequest[] = [];
  const budgets: (number | undefined)[] = [];
  let locks = 0;
  let otherHolds = options.otherFlight !== undefined;
  const take = () => {
    locks++;
    events.push('take models');
    return { release: async () => void events.push('release models') };
  };
  const deps: ResolveDeps = {
    sourceUrl: options.sourceUrl ?? URL,
    maxAgeMs: 10 * MIN,
    maxStaleMs: 60 * MIN,
    fallbackAfterMs: 3000,
    configMap,
    file,
    lock: {
      acquire: async () => take(),
      tryAcquire: async () => (otherHolds ? undefined : take()),
      awaitRelease: async () => {
        events.push('await models');
        const published = options.otherFlight?.publishes;
        if (published) await configMap.write(published);
        otherHolds = false;
      },
    },
    scout: options.scout && {
      tryAcquire: async () => {
        if (options.scout?.held) return undefined;
        events.push('take scout');
        return { release: async () => void events.push('release scout') };
      },
      awaitRelease: async () => void events.push('await scout'),
    },
    fetch: async (request, limits) => {
      events.push('request');
      requests.push(request);
      budgets.push(limits.budgetMs);
      if (!options.answer) throw new Error('no request expected');
      return options.answer(request);
    },
    logger: silentLogger(),
    clock,
  };
  return { resolver: createResolver(deps), configMap, file, requests, budgets, events, locks: () => locks };
}

const ok = (): SourceResponse => ({ kind: 'ok', body: minimal, etag: '"v2"', lastModified: null });
const fail = (): SourceResponse => {
  throw new SourceError('HTTP 500', true);
};

describe('model resolution', () => {
  it('reuses a fresh ConfigMap artifact without a lock or a request, and copies it to the file', async () => {
    const held = artifact(5 * MIN);
    const t = setup({ configMap: held });
    await expect(t.resolver.models()).resolves.toMatchObject({ origin: 'reused' });
    expect(t.requests).toHaveLength(0);
    expect(t.locks()).toBe(0);
    expect(t.file.writes).toEqual([held]);
    expect(t.configMap.writes).toEqual([]);
  });

  it('fetches when the cache is stale, conditionally, and writes both sinks', async () => {
    const t = setup({ configMap: artifact(20 * MIN), answer: ok });
    const result = await t.resolver.models();
    expect(result.origin).toBe('fetched');
    expect(t.locks()).toBe(1);
    expect(t.requests).toEqual([{ url: URL, etag: '"v1"', lastModified: null }]);
    expect(result.artifact.models.map((m) => m.id)).toEqual(['llama-3.3-70b', 'mistral-31-24b']);
    expect(result.artifact.source.etag).toBe('"v2"');
    expect(t.configMap.writes).toHaveLength(1);
    expect(t.file.writes).toHaveLength(1);
  });

  it('on 304 moves only checkedAt', async () => {
    const held = artifact(20 * MIN);
    const t = setup({ configMap: held, answer: () => ({ kind: 'not-modified' }) });
    const result = await t.resolver.models();
    expect(result.origin).toBe('not-modified');
    expect(result.artifact).toEqual({ ...held, checkedAt: new Date(NOW).toISOString() });
  });

  it('falls back to the last-known-good artifact marked stale, and never writes it to the ConfigMap', async () => {
    const held = artifact(30 * MIN);
    const t = setup({ configMap: held, answer: fail });
    const result = await t.resolver.models();
    expect(result).toEqual({ origin: 'last-known-good', artifact: { ...held, stale: true } });
    expect(t.configMap.writes).toEqual([]);
    expect(t.file.writes).toEqual([{ ...held, stale: true }]);
  });

  it('gives the source only MODELS_FALLBACK_AFTER while it holds a last-known-good artifact', async () => {
    const t = setup({ configMap: artifact(30 * MIN), answer: ok });
    await t.resolver.models();
    expect(t.budgets).toEqual([3000]);
  });

  it('gives the source its full timeout and retries when nothing could be fallen back on', async () => {
    const none = setup({ answer: ok });
    await none.resolver.models();
    const tooOld = setup({ file: artifact(61 * MIN), answer: ok });
    await tooOld.resolver.models();
    expect([...none.budgets, ...tooOld.budgets]).toEqual([undefined, undefined]);
  });

  it('fails, writing nothing, when the newest artifact is older than MODELS_MAX_STALE', async () => {
    const t = setup({ file: artifact(61 * MIN), answer: fail });
    await expect(t.resolver.models()).rejects.toThrow(/older than MODELS_MAX_STALE.*raise MODELS_MAX_STALE/);
    expect(t.file.writes).toEqual([]);
  });

  it('fails when the source fails and nothing is held', async () => {
    const t = setup({ answer: fail });
    await expect(t.resolver.models()).rejects.toThrow(/HTTP 500.*no sink holds a valid artifact/);
  });

  it('never lets a bad response replace a good artifact', async () => {
    const held = artifact(20 * MIN);
    const t = setup({
      configMap: held,
      answer: () => ({ kind: 'ok', body: '{"models":[]}', etag: null, lastModified: null }),
    });
    const result = await t.resolver.models();
    expect(result.origin).toBe('last-known-good');
    expect(result.artifact.sha256).toBe(held.sha256);
    expect(t.configMap.writes).toEqual([]);
  });

  it('does not reuse a fresh artifact from another source URL (a changed MODEL_SOURCE_URL takes effect at once)', async () => {
    const other = artifact(1 * MIN, {
      source: { url: 'https://old.example/models.json', etag: '"v1"', lastModified: null },
    });
    const t = setup({ configMap: other, answer: ok });
    await expect(t.resolver.models()).resolves.toMatchObject({ origin: 'fetched' });
    expect(t.requests).toEqual([{ url: URL, etag: null, lastModified: null }]);
  });

  it('uses the newer of the sinks and updates the older one', async () => {
    const newer = artifact(2 * MIN);
    const t = setup({ configMap: artifact(50 * MIN), file: newer });
    await expect(t.resolver.models()).resolves.toMatchObject({ origin: 'reused' });
    expect(t.configMap.writes).toEqual([newer]);
  });

  it("waits out another init's flight without taking the lock, and reuses what it published", async () => {
    const t = setup({ configMap: artifact(30 * MIN), otherFlight: { publishes: artifact(0) } });
    await expect(t.resolver.models()).resolves.toMatchObject({ origin: 'reused' });
    expect(t.locks()).toBe(0);
    expect(t.requests).toEqual([]);
    expect(t.file.writes).toHaveLength(1);
  });

  it("shares the failure of another init's flight: last-known-good, no lock, no request of its own", async () => {
    const t = setup({ configMap: artifact(30 * MIN), otherFlight: { publishes: undefined } });
    await expect(t.resolver.models()).resolves.toMatchObject({
      origin: 'last-known-good',
      artifact: { stale: true },
    });
    expect(t.locks()).toBe(0);
    expect(t.requests).toEqual([]);
  });

  it('with nothing to share after a failed flight, takes the lock and asks the source itself', async () => {
    const t = setup({ otherFlight: { publishes: undefined }, answer: ok });
    await expect(t.resolver.models()).resolves.toMatchObject({ origin: 'fetched' });
    expect(t.locks()).toBe(1);
    expect(t.requests).toHaveLength(1);
  });

  describe('the scout lock', () => {
    it('the first init reads a cold cache alone and lets the others read once it holds the models lock', async () => {
      const t = setup({ configMap: artifact(30 * MIN), answer: ok, scout: { held: false } });
      await expect(t.resolver.models()).resolves.toMatchObject({ origin: 'fetched' });
      expect(t.events).toEqual([
        'take scout',
        'read configmap',
        'take models',
        'release scout',
        // Under the models lock the cache is read again: another flight may have ended since the first read.
        'read configmap',
        'request',
        'release models',
      ]);
    });

    it('over a fresh cache it is let go before publishing, and the models lock is never taken', async () => {
      const t = setup({ configMap: artifact(5 * MIN), scout: { held: false } });
      await expect(t.resolver.models()).resolves.toMatchObject({ origin: 'reused' });
      expect(t.events).toEqual(['take scout', 'read configmap', 'release scout']);
      expect(t.file.writes).toHaveLength(1);
    });

    it('an init that finds another scouting waits for it before reading, then joins the flight it started', async () => {
      const t = setup({
        configMap: artifact(30 * MIN),
        otherFlight: { publishes: artifact(0) },
        scout: { held: true },
      });
      await expect(t.resolver.models()).resolves.toMatchObject({ origin: 'reused' });
      expect(t.events).toEqual(['await scout', 'read configmap', 'await models', 'read configmap']);
      expect(t.requests).toEqual([]);
    });

    it('the scout is let go when its read fails', async () => {
      const t = setup({ scout: { held: false } });
      t.configMap.read = async () => {
        t.events.push('read configmap');
        throw new Error('cannot reach the API server');
      };
      await expect(t.resolver.models()).rejects.toThrow('cannot reach the API server');
      expect(t.events).toEqual(['take scout', 'read configmap', 'release scout']);
    });
  });

  describe('a source URL with a secret', () => {
    const SECRET_URL =
      'https://reader:pw-6d1f0e2a9b8c7d6e@models.example/active_models.json?token=tok-5a4b3c2d1e0f';
    const LABEL = sourceLabel(SECRET_URL);

    it('is requested in full and stored by its label, without the secret', async () => {
      const t = setup({ sourceUrl: SECRET_URL, answer: ok });
      const result = await t.resolver.models();
      expect(result.origin).toBe('fetched');
      expect(t.requests).toEqual([{ url: SECRET_URL, etag: null, lastModified: null }]);
      expect(result.artifact.source.url).toBe(LABEL);
      expect(JSON.stringify([...t.file.writes, ...t.configMap.writes])).not.toMatch(/pw-6d1f|tok-5a4b/);
    });

    it('is recognised by its label: a fresh artifact is reused, a stale one asked for conditionally', async () => {
      const labelled = (agoMs: number) =>
        artifact(agoMs, { source: { url: LABEL, etag: '"v1"', lastModified: null } });
      const fresh = setup({ sourceUrl: SECRET_URL, configMap: labelled(5 * MIN) });
      await expect(fresh.resolver.models()).resolves.toMatchObject({ origin: 'reused' });
      const stale = setup({ sourceUrl: SECRET_URL, configMap: labelled(20 * MIN), answer: ok });
      await expect(stale.resolver.models()).resolves.toMatchObject({ origin: 'fetched' });
      expect(stale.requests).toEqual([{ url: SECRET_URL, etag: '"v1"', lastModified: null }]);
    });

    it('is another source once its token changes: fetched unconditionally, not reused', async () => {
      const held = artifact(1 * MIN, { source: { url: LABEL, etag: '"v1"', lastModified: null } });
      const rotated = SECRET_URL.replace('tok-5a4b3c2d1e0f', 'tok-rotated-000000');
      const t = setup({ sourceUrl: rotated, configMap: held, answer: ok });
      await expect(t.resolver.models()).resolves.toMatchObject({ origin: 'fetched' });
      expect(t.requests).toEqual([{ url: rotated, etag: null, lastModified: null }]);
      expect(t.configMap.writes[0]?.source.url).toBe(sourceLabel(rotated));
    });
  });

  it('refresh always asks the source and never touches the file', async () => {
    const t = setup({ configMap: artifact(1 * MIN), answer: ok });
    const refreshBudgets: (number | undefined)[] = [];
    const resolver = createResolver({
      sourceUrl: URL,
      maxAgeMs: 10 * MIN,
      maxStaleMs: 60 * MIN,
      fallbackAfterMs: 3000,
      configMap: t.configMap,
      file: undefined,
      lock: {
        acquire: async () => ({ release: async () => undefined }),
        tryAcquire: async () => ({ release: async () => undefined }),
        awaitRelease: async () => undefined,
      },
      fetch: async (_request, limits) => {
        refreshBudgets.push(limits.budgetMs);
        return ok();
      },
      logger: silentLogger(),
      clock,
    });
    await expect(resolver.refresh()).resolves.toMatchObject({ origin: 'fetched' });
    // refresh is the CronJob's: no pod waits on it, so the source always gets its full timeout and retries.
    expect(refreshBudgets).toEqual([undefined]);
    expect(t.configMap.writes).toHaveLength(1);
    expect(t.file.writes).toEqual([]);
  });
});

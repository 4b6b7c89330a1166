import type { Logger } from '../../core/logger';
import type { ArtifactOrigin } from '../../core/artifact/report';
import { artifactAgeMs, freshness, isNewer, newest } from '../../core/artifact/freshness';
import { buildArtifact, parseArtifact, serializeArtifact, type Artifact } from '../../core/artifact/schema';
import { redactSourceUrl, sourceLabel } from '../../core/artifact/source-url';
import type { Clock } from '../backoff';
import { InitError } from '../errors';
import type { HeldLock } from '../db/advisory-lock';
import { parseMorpheus, SourceFormatError } from './morpheus';
import { SourceError, type SourceRequest, type SourceResponse } from './source';
import type { ArtifactSink, SinkRead } from './sinks/sink';

export interface ResolveDeps {
  sourceUrl: string;
  maxAgeMs: number;
  maxStaleMs: number;
  /** MODELS_FALLBACK_AFTER: the source's whole allowance in `models` while a last-known-good artifact is held. */
  fallbackAfterMs: number;
  /** The shared cache (ConfigMap), if configured. */
  configMap: ArtifactSink | undefined;
  /** MODELS_FILE; undefined for `refresh`, which never touches the local file. */
  file: ArtifactSink | undefined;
  /** The single-flight lock (the second advisory lock). */
  lock: {
    /** Waits for it (bounded by MODELS_LOCK_TIMEOUT). */
    acquire(): Promise<HeldLock>;
    /** Takes it if it is free, else undefined at once. */
    tryAcquire(): Promise<HeldLock | undefined>;
    /** Waits until its holder releases it, without taking it (bounded by MODELS_LOCK_TIMEOUT). */
    awaitRelease(): Promise<void>;
  };
  /**
   * The scout lock (a third advisory lock), for `models` with a shared cache on a connection already open: one init
   * at a time reads a cache that nobody has found fresh yet (`scoutFirst`). Absent: every init reads at once.
   */
  scout?: {
    /** Takes it if it is free, else undefined at once. */
    tryAcquire(): Promise<HeldLock | undefined>;
    /** Waits until its holder releases it, without taking it; gives up quietly after a bound, never fails the run. */
    awaitRelease(): Promise<void>;
  };
  /** `budgetMs`: the allowance over all attempts, when shorter than MODEL_SOURCE_TIMEOUT and the retries. */
  fetch(request: SourceRequest, limits: { budgetMs?: number }): Promise<SourceResponse>;
  logger: Logger;
  clock: Clock;
}

export interface ResolveResult {
  origin: ArtifactOrigin;
  artifact: Artifact;
}

interface Held {
  sink: ArtifactSink;
  read: SinkRead;
}

/** The newest valid artifact held by any sink. */
function newestHeld(held: readonly Held[]): Artifact | undefined {
  return newest(held.flatMap(({ read }) => (read.state === 'valid' ? [read.artifact] : [])));
}

class SourceFailure extends Error {}

export function createResolver(deps: ResolveDeps) {
  const { logger, clock } = deps;
  const sinks = [deps.configMap, deps.file].filter((s): s is ArtifactSink => s !== undefined);
  const shownUrl = redactSourceUrl(deps.sourceUrl);
  /** What artifacts from the configured source carry as `source.url` (no secret in it). */
  const label = sourceLabel(deps.sourceUrl);
  const limits = { maxAgeMs: deps.maxAgeMs, maxStaleMs: deps.maxStaleMs };

  async function readAll(): Promise<Held[]> {
    const held: Held[] = [];
    for (const sink of sinks) {
      const read = await sink.read();
      if (read.state === 'invalid')
        logger.warn({ sink: sink.description, reason: read.reason }, 'ignoring an invalid artifact');
      held.push({ sink, read });
    }
    return held;
  }

  /** Reusable without asking the source: fresh, and from the configured source (a changed MODEL_SOURCE_URL,
   * password, token or query takes effect at once). */
  function reusable(artifact: Artifact): boolean {
    return artifact.source.url === label && freshness(artifact, limits, clock.now()) === 'fresh';
  }

  /** Writes the chosen artifact: the file always, the ConfigMap when it holds something older (never a stale one). */
  async function publish(result: ResolveResult, held: readonly Held[]): Promise<ResolveResult> {
    for (const { sink, read } of held) {
      if (sink.kind === 'configmap') {
        if (result.artifact.stale) continue;
        if (read.state === 'valid' && !isNewer(result.artifact, read.artifact)) continue;
      }
      await sink.write(result.artifact);
    }
    const state = freshness(result.artifact, limits, clock.now());
    logger.info(
      {
        origin: result.origin,
        models: result.artifact.models.length,
        sha256: result.artifact.sha256,
        checkedAt: result.artifact.checkedAt,
        freshness: state,
        stale: state !== 'fresh',
      },
      'model artifact resolved',
    );
    return result;
  }

  /** A pod could start on `best` if the source failed now: it has not expired (MODELS_MAX_STALE). */
  function fallbackHeld(best: Artifact | undefined): boolean {
    return best !== undefined && freshness(best, limits, clock.now()) !== 'expired';
  }

  /**
   * `mayFallBack` (`models`): with a last-known-good artifact in hand, the source gets MODELS_FALLBACK_AFTER in all,
   * so a slow or hanging source delays a starting pod by that much, not by the timeout times the attempts.
   */
  async function askSource(best: Artifact | undefined, mayFallBack: boolean): Promise<ResolveResult> {
    const sameSource = best !== undefined && best.source.url === label;
    let response: SourceResponse;
    try {
      response = await deps.fetch(
        {
          url: deps.sourceUrl,
          etag: sameSource ? best.source.etag : null,
          lastModified: sameSource ? best.source.lastModified : null,
        },
        mayFallBack && fallbackHeld(best) ? { budgetMs: deps.fallbackAfterMs } : {},
      );
    } catch (error) {
      if (error instanceof SourceError) throw new SourceFailure(error.message);
      throw error;
    }
    const now = new Date(clock.now()).toISOString();
    if (response.kind === 'not-modified') {
      if (!best) throw new SourceFailure('the source answered "not modified" but no artifact is held');
      return { origin: 'not-modified', artifact: { ...best, checkedAt: now, stale: false } };
    }
    let normalized;
    try {
      normalized = parseMorpheus(response.body);
    } catch (error) {
      if (error instanceof SourceFormatError) throw new SourceFailure(`${shownUrl}: ${error.message}`);
      throw error;
    }
    for (const warning of normalized.warnings) logger.warn({ warning }, 'model source quirk');
    const artifact = buildArtifact({
      models: normalized.models,
      source: { url: label, etag: response.etag, lastModified: response.lastModified },
      fetchedAt: now,
      warnings: normalized.warnings,
    });
    // The last gate before any sink: only an artifact the app would accept is ever written.
    const check = parseArtifact(serializeArtifact(artifact));
    if (!check.ok)
      throw new SourceFailure(
        `${shownUrl}: the normalized catalog is not a valid artifact (${check.reason})`,
      );
    return { origin: 'fetched', artifact: check.artifact };
  }

  function lastKnownGood(best: Artifact | undefined, failure: string): ResolveResult {
    if (best && fallbackHeld(best)) {
      logger.warn(
        {
          reason: failure,
          checkedAt: best.checkedAt,
          ageSeconds: Math.round(artifactAgeMs(best, clock.now()) / 1000),
        },
        'model source failed; using the last-known-good artifact, marked stale',
      );
      return { origin: 'last-known-good', artifact: { ...best, stale: true } };
    }
    const why = best
      ? `the newest artifact held was checked at ${best.checkedAt}, older than MODELS_MAX_STALE`
      : 'no sink holds a valid artifact';
    throw new InitError(
      `the model source failed (${failure}) and there is no last-known-good artifact to fall back on (${why}); fix MODEL_SOURCE_URL or the source, or raise MODELS_MAX_STALE to accept an older catalog`,
    );
  }

  /**
   * After waiting on another init's flight: the cache unchanged means that flight failed moments ago. Asking again
   * would make every waiting pod pay the full timeout and retries in turn; the flight's outcome is shared instead
   * (last-known-good), like its success would have been.
   */
  function flightFailed(
    held: Artifact | undefined,
    seenBefore: string | undefined,
  ): ResolveResult | undefined {
    if (!held || !fallbackHeld(held) || held.checkedAt !== seenBefore) return undefined;
    return lastKnownGood(held, 'another modelgate-init asked the source just now and did not get a catalog');
  }

  /**
   * Pods of a rollout start together, and when the cache needs the source, every one of them loading the Kubernetes
   * client and reading the ConfigMap before any of them takes the models lock puts all those reads (tens of ms of
   * CPU each) before the one request that matters, on nodes they share. So the first init to get here reads alone,
   * holding the scout lock until it has either found the cache fresh or taken the models lock; the others wait for
   * it (no CPU spent) and then read: with a fresh cache, all at once, as before; with the fetch under way, during
   * it. Returns the scout lock when this run holds it.
   */
  async function scoutFirst(): Promise<HeldLock | undefined> {
    if (!deps.scout) return undefined;
    const scout = await deps.scout.tryAcquire();
    if (!scout) await deps.scout.awaitRelease();
    return scout;
  }

  return {
    /** `models`: reuse a fresh cached artifact, else fetch once per cluster (single-flight), else last-known-good. */
    async models(): Promise<ResolveResult> {
      const scout = await scoutFirst();
      let held: Held[];
      let best: Artifact | undefined;
      let lock: HeldLock | undefined;
      try {
        held = await readAll();
        best = newestHeld(held);
        if (!best || !reusable(best)) lock = await deps.lock.tryAcquire();
      } finally {
        await scout
          ?.release()
          .catch((error) => logger.warn({ err: error }, 'could not release the scout lock'));
      }
      const seenBefore = best?.checkedAt;
      if (best && reusable(best)) return publish({ origin: 'reused', artifact: best }, held);
      if (!lock) {
        // Another init is asking the source. Wait for its outcome beside every other waiting pod, then read the
        // cache together: taking the lock in turn just to read would put N pods' reads one after the other.
        await deps.lock.awaitRelease();
        held = await readAll();
        const after = newestHeld(held);
        if (after && reusable(after)) return publish({ origin: 'reused', artifact: after }, held);
        const shared = flightFailed(after, seenBefore);
        if (shared) return publish(shared, held);
        // Nothing to share: ask the source, one init at a time.
        lock = await deps.lock.acquire();
      }
      try {
        held = await readAll();
        best = newestHeld(held);
        if (best && reusable(best)) return await publish({ origin: 'reused', artifact: best }, held);
        const shared = lock.waited ? flightFailed(best, seenBefore) : undefined;
        if (shared) return await publish(shared, held);
        let result: ResolveResult;
        try {
          result = await askSource(best, true);
        } catch (error) {
          if (!(error instanceof SourceFailure)) throw error;
          result = lastKnownGood(best, error.message);
        }
        return await publish(result, held);
      } finally {
        await lock
          .release()
          .catch((error) => logger.warn({ err: error }, 'could not release the models lock'));
      }
    },

    /** `refresh`: always ask the source (conditionally) and update the ConfigMap; a failure leaves it untouched. */
    async refresh(): Promise<ResolveResult> {
      const lock = await deps.lock.acquire();
      try {
        const held = await readAll();
        const best = newestHeld(held);
        try {
          return await publish(await askSource(best, false), held);
        } catch (error) {
          if (!(error instanceof SourceFailure)) throw error;
          throw new InitError(
            `the model source failed (${error.message}); the ConfigMap keeps its artifact${best ? ` checked at ${best.checkedAt}` : ''}; pods fall back to it until MODELS_MAX_STALE`,
          );
        }
      } finally {
        await lock
          .release()
          .catch((error) => logger.warn({ err: error }, 'could not release the models lock'));
      }
    },
  };
}

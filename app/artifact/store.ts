import type { Logger } from '../../core/logger';
import { freshness, isNewer, newest, type FreshnessLimits } from '../../core/artifact/freshness';
import type { Artifact } from '../../core/artifact/schema';
import { redactSourceUrl } from '../../core/artifact/source-url';
import { createSnapshot, type Catalog, type CatalogSnapshot } from '../catalog/catalog';
import type { Metrics } from '../metrics';
import { parseArtifactFast } from '../../core/artifact/fast-parse';
import { coalesced } from './coalesced';
import { readLocation, type ArtifactLocation, type ReadResult } from './sources';

export interface ArtifactStoreOptions {
  locations: readonly ArtifactLocation[];
  logger: Logger;
  metrics: Pick<Metrics, 'reloads' | 'models' | 'artifactInfo'>;
  /** MODELS_MAX_AGE and MODELS_MAX_STALE, for the freshness logged when a catalog is loaded. */
  limits: FreshnessLimits;
  now?: () => number;
  read?: (location: ArtifactLocation) => Promise<ReadResult>;
}

/**
 * The catalog the API reads, kept current from the artifact locations. A newer valid artifact replaces the
 * snapshot in one assignment; an invalid or older one never replaces a good one.
 */
export interface ArtifactStore extends Catalog {
  /** Re-reads every location; concurrent calls are coalesced into one extra pass. */
  reload(): Promise<void>;
  /** Why no catalog is loaded, or undefined once one is. */
  problem(): string | undefined;
}

interface Candidate {
  artifact: Artifact;
  origin: string;
}

export function createArtifactStore(options: ArtifactStoreOptions): ArtifactStore {
  const { locations, logger, metrics } = options;
  const now = options.now ?? Date.now;
  const read = options.read ?? readLocation;
  let current: CatalogSnapshot | undefined;
  /** What each location held when last judged: unchanged bytes are not judged (or counted) twice. */
  const seen = new Map<string, string>();
  /** The latest complaint per location, for the not-ready reason. */
  const complaints = new Map<string, string>();

  function apply(candidate: Candidate): void {
    current = createSnapshot(candidate.artifact, candidate.origin, now());
    const { artifact } = candidate;
    metrics.models.set(artifact.models.length);
    metrics.artifactInfo.reset();
    metrics.artifactInfo.set({ sha256: artifact.sha256, source: redactSourceUrl(artifact.source.url) }, 1);
    metrics.reloads.inc({ result: 'applied' });
    logger.info(
      {
        origin: candidate.origin,
        models: artifact.models.length,
        sha256: artifact.sha256,
        checkedAt: artifact.checkedAt,
        freshness: freshness(artifact, options.limits, now()),
      },
      'model catalog loaded',
    );
  }

  async function judge(location: ArtifactLocation): Promise<Candidate | undefined> {
    const result = await read(location);
    if (result.kind === 'missing') {
      seen.delete(location.path);
      complaints.set(location.path, 'missing');
      return undefined;
    }
    if (seen.get(location.path) === result.fingerprint && result.fingerprint !== '') return undefined;
    seen.set(location.path, result.fingerprint);
    const parsed =
      result.kind === 'text' ? parseArtifactFast(result.text) : { ok: false as const, reason: result.reason };
    if (!parsed.ok) {
      complaints.set(location.path, parsed.reason);
      metrics.reloads.inc({ result: 'rejected' });
      logger.warn(
        { origin: location.path, reason: parsed.reason, serving: current?.artifact.sha256 ?? null },
        'model artifact rejected; the current catalog stays',
      );
      return undefined;
    }
    complaints.delete(location.path);
    return { artifact: parsed.artifact, origin: location.path };
  }

  async function pass(): Promise<void> {
    const candidates: Candidate[] = [];
    for (const location of locations) {
      const candidate = await judge(location);
      if (candidate) candidates.push(candidate);
    }
    const best = newest(candidates, (candidate) => candidate.artifact);
    for (const candidate of candidates) {
      if (candidate === best && isNewer(candidate.artifact, current?.artifact)) {
        apply(candidate);
        continue;
      }
      metrics.reloads.inc({ result: 'ignored' });
      logger.debug(
        { origin: candidate.origin, checkedAt: candidate.artifact.checkedAt },
        'model artifact not newer than the served one; ignored',
      );
    }
  }

  const reload = coalesced(pass);

  function problem(): string | undefined {
    if (current) return undefined;
    const details = locations.map((l) => `${l.path}: ${complaints.get(l.path) ?? 'not read yet'}`).join('; ');
    return `no valid model artifact (${details}); run modelgate-init models or all to write one`;
  }

  return { current: () => current, reload, problem };
}

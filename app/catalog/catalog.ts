import type { Artifact, ArtifactModel } from '../../core/artifact/schema';

/** One loaded artifact, indexed for lookups. Immutable: a reload swaps the whole snapshot. */
export interface CatalogSnapshot {
  readonly artifact: Artifact;
  /** By public model name (`model` in requests). */
  readonly byId: ReadonlyMap<string, ArtifactModel>;
  /** By the source's Id; several names may share one. */
  readonly byUpstreamId: ReadonlyMap<string, readonly ArtifactModel[]>;
  /** Where it was read from (a file path). */
  readonly origin: string;
  /** When this process loaded it (ms since epoch). */
  readonly loadedAt: number;
}

/** What the API reads: the current snapshot, or undefined before a valid artifact was loaded. */
export interface Catalog {
  current(): CatalogSnapshot | undefined;
}

export function createSnapshot(artifact: Artifact, origin: string, loadedAt = Date.now()): CatalogSnapshot {
  const byId = new Map<string, ArtifactModel>();
  const byUpstreamId = new Map<string, ArtifactModel[]>();
  for (const model of artifact.models) {
    byId.set(model.id, model);
    const list = byUpstreamId.get(model.upstreamId);
    if (list) list.push(model);
    else byUpstreamId.set(model.upstreamId, [model]);
  }
  return { artifact, byId, byUpstreamId, origin, loadedAt };
}

/** A catalog holding a fixed snapshot, for tests and tools. */
export function staticCatalog(snapshot: CatalogSnapshot | undefined): Catalog {
  return { current: () => snapshot };
}

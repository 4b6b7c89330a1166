import type { Artifact } from './schema';

/**
 * How current an artifact is, the one definition init (reuse and fallback), `modelgate-init status` and the app's
 * /status share. The clock is `checkedAt`: when the source was last asked (a 304 counts).
 * - fresh: checked within MODELS_MAX_AGE and not marked stale; init reuses it without asking the source (when it
 *   came from the configured source).
 * - stale: not fresh (older than MODELS_MAX_AGE, or marked stale: init fell back on it when the source failed), and
 *   checked within MODELS_MAX_STALE; init asks the source, and falls back on it when the source fails.
 * - expired: not fresh and checked longer ago than MODELS_MAX_STALE; init no longer falls back on it. The app keeps
 *   serving whatever it holds: a catalog is better than none.
 * A boolean `stale` wherever it is shown (/status, the init report, log lines) means "not fresh".
 */
export const freshnessStates = ['fresh', 'stale', 'expired'] as const;
export type Freshness = (typeof freshnessStates)[number];

export interface FreshnessLimits {
  /** MODELS_MAX_AGE */
  maxAgeMs: number;
  /** MODELS_MAX_STALE */
  maxStaleMs: number;
}

/** Milliseconds since the artifact was last checked against the source (negative when the clocks disagree). */
export function artifactAgeMs(artifact: Pick<Artifact, 'checkedAt'>, now: number): number {
  return now - Date.parse(artifact.checkedAt);
}

export function freshness(
  artifact: Pick<Artifact, 'checkedAt' | 'stale'>,
  limits: FreshnessLimits,
  now: number,
): Freshness {
  const age = artifactAgeMs(artifact, now);
  if (!artifact.stale && age <= limits.maxAgeMs) return 'fresh';
  return age <= limits.maxStaleMs ? 'stale' : 'expired';
}

/** Which of two artifacts is newer: the later checkedAt wins (a refresh that found no change still counts as news). */
export function isNewer(
  candidate: Pick<Artifact, 'checkedAt'>,
  current: Pick<Artifact, 'checkedAt'> | undefined,
) {
  if (!current) return true;
  return Date.parse(candidate.checkedAt) > Date.parse(current.checkedAt);
}

/** The newest of several artifacts, or of things holding one (the first of equals); undefined when there are none. */
export function newest<T>(
  items: Iterable<T>,
  artifactOf: (item: T) => Pick<Artifact, 'checkedAt'> = (item) => item as Pick<Artifact, 'checkedAt'>,
): T | undefined {
  let best: T | undefined;
  for (const item of items)
    if (best === undefined || isNewer(artifactOf(item), artifactOf(best))) best = item;
  return best;
}

import { artifactAgeMs, freshness, type FreshnessLimits } from '../core/artifact/freshness';
import type { InitReport } from '../core/artifact/report';
import { redactSourceUrl } from '../core/artifact/source-url';
import type { CatalogSnapshot } from './catalog/catalog';
import type { DatabaseView } from './database-health';
import type { Readiness } from './readiness';
import type { SchemaView } from './schema-monitor';

export interface StatusInputs {
  readiness: Readiness;
  snapshot: CatalogSnapshot | undefined;
  schema: SchemaView;
  initReport: InitReport | undefined;
  draining: boolean;
  pod: string;
  version: string;
  startedAt: number;
  /** MODELS_MAX_AGE and MODELS_MAX_STALE. */
  limits: FreshnessLimits;
  now: number;
  /** The outage detector's view; an outage makes a ready pod `degraded`. */
  database?: DatabaseView;
  /** The API's own view (revocation listener, key cache), when it offers one. */
  api?: unknown;
}

/** Why a ready pod is degraded: the database is unreachable (it stays ready: the outage is shared by every pod). */
export function databaseOutageReason(database: DatabaseView | undefined): string | undefined {
  if (!database || database.state === 'reachable') return undefined;
  return (
    `the database is unreachable since ${database.since} (${database.forSeconds} s: ${database.reason}); ` +
    'API keys seen recently keep working for models, chat completions and embeddings, routes that need the database answer 503'
  );
}

/** Seconds since the artifact was last checked against the source; undefined without an artifact. */
export function artifactAgeSeconds(snapshot: CatalogSnapshot | undefined, now: number): number | undefined {
  if (!snapshot) return undefined;
  return Math.max(0, artifactAgeMs(snapshot.artifact, now) / 1000);
}

/**
 * The rich /status view for people and dashboards; not a probe. Only public facts: the source URL loses
 * credentials and query, and nothing from the configuration but the pod name is shown.
 */
export function buildStatus(input: StatusInputs) {
  const { snapshot, now } = input;
  const age = artifactAgeSeconds(snapshot, now);
  const artifact = snapshot?.artifact;
  const state = artifact && freshness(artifact, input.limits, now);
  const outage = databaseOutageReason(input.database);
  const status = input.draining
    ? 'draining'
    : !input.readiness.ready
      ? 'not ready'
      : outage
        ? 'degraded'
        : 'ready';
  return {
    status,
    ready: input.readiness.ready,
    reasons: outage ? [...input.readiness.reasons, outage] : input.readiness.reasons,
    pod: input.pod,
    version: input.version,
    uptimeSeconds: Math.round((now - input.startedAt) / 100) / 10,
    models:
      artifact && snapshot
        ? {
            count: artifact.models.length,
            sha256: artifact.sha256,
            source: redactSourceUrl(artifact.source.url),
            fetchedAt: artifact.fetchedAt,
            checkedAt: artifact.checkedAt,
            ageSeconds: age === undefined ? null : Math.round(age),
            freshness: state,
            stale: state !== 'fresh',
            warnings: artifact.warnings.length,
            file: snapshot.origin,
            loadedAt: new Date(snapshot.loadedAt).toISOString(),
          }
        : null,
    schema: input.schema,
    database: input.database ?? null,
    api: input.api ?? null,
    init: input.initReport
      ? {
          command: input.initReport.command,
          pod: input.initReport.pod,
          finishedAt: input.initReport.finishedAt,
          exitCode: input.initReport.exitCode,
          origin: input.initReport.artifact.origin,
          migrationsApplied: input.initReport.migrations.applied.length,
          durations: input.initReport.durations,
        }
      : null,
  };
}

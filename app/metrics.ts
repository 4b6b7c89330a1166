import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import { artifactOrigins } from '../core/artifact/report';

/**
 * Every metric modelgate-app exports, created on an injected Registry (never the global one). `createMetrics` is
 * idempotent per registry, so the runtime and the API can both call it and get the same objects. The upstream and
 * routing metrics are the routing's own (app/api/routing/routing-metrics.ts).
 */
export interface Metrics {
  httpRequestDuration: Histogram<'method' | 'route' | 'status_code'>;
  artifactInfo: Gauge<'sha256' | 'source'>;
  artifactAge: Gauge;
  models: Gauge;
  reloads: Counter<'result'>;
  ready: Gauge;
  schemaCompatible: Gauge;
  initStepDuration: Gauge<'step'>;
  initArtifactOrigin: Gauge<'origin'>;
  initFinished: Gauge;
  /** Set by the outage detector (app/database-health.ts). */
  databaseUp: Gauge;
  databaseUnreachableSeconds: Gauge;
  databaseOutages: Counter;
  /** Writes held back for the database (`buffer`: last_use, later the usage ledger), and those dropped when full. */
  bufferPending: Gauge<'buffer'>;
  bufferDropped: Counter<'buffer'>;
}

/** The results counted by `modelgate_models_reloads_total`. */
export const reloadResults = ['applied', 'ignored', 'rejected'] as const;
export type ReloadResult = (typeof reloadResults)[number];

const LINT_FAILING_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

const byRegistry = new WeakMap<Registry, Metrics>();

export function createMetrics(registry: Registry): Metrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  collectDefaultMetrics({ register: registry });
  // prom-client names these gauges *_total, which Prometheus reserves for counters (promtool rejects them);
  // nodejs_active_handles{type} and friends carry the same information.
  for (const name of LINT_FAILING_DEFAULTS) registry.removeSingleMetric(name);
  const registers = [registry];
  const metrics: Metrics = {
    httpRequestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Duration of HTTP requests by method, route template and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    }),
    artifactInfo: new Gauge({
      name: 'modelgate_models_artifact_info',
      help: 'The model artifact being served (value 1), by its sha256 and source URL.',
      labelNames: ['sha256', 'source'],
      registers,
    }),
    artifactAge: new Gauge({
      name: 'modelgate_models_artifact_age_seconds',
      help: 'Seconds since the served artifact was last checked against the model source (checkedAt).',
      registers,
    }),
    models: new Gauge({
      name: 'modelgate_models',
      help: 'Number of models in the served catalog.',
      registers,
    }),
    reloads: new Counter({
      name: 'modelgate_models_reloads_total',
      help: 'Artifact reloads by result: applied (newer, now served), ignored (not newer), rejected (invalid).',
      labelNames: ['result'],
      registers,
    }),
    ready: new Gauge({
      name: 'modelgate_ready',
      help: '1 while /readyz answers 200, else 0.',
      registers,
    }),
    schemaCompatible: new Gauge({
      name: 'modelgate_schema_compatible',
      help: '1 when the database has the newest migration this code needs, else 0.',
      registers,
    }),
    initStepDuration: new Gauge({
      name: 'modelgate_init_step_duration_seconds',
      help: 'Seconds the last modelgate-init run spent per step (from init-report.json beside MODELS_FILE).',
      labelNames: ['step'],
      registers,
    }),
    initArtifactOrigin: new Gauge({
      name: 'modelgate_init_artifact_origin',
      help: 'Where the last modelgate-init run got the artifact from (1 for that origin, 0 for the others).',
      labelNames: ['origin'],
      registers,
    }),
    initFinished: new Gauge({
      name: 'modelgate_init_finished_timestamp_seconds',
      help: 'When the last modelgate-init run finished (Unix seconds).',
      registers,
    }),
    databaseUp: new Gauge({
      name: 'modelgate_database_up',
      help: '1 while the database answers, 0 during an outage (known API keys are then served from memory).',
      registers,
    }),
    databaseUnreachableSeconds: new Gauge({
      name: 'modelgate_database_unreachable_seconds',
      help: 'How long the current database outage has lasted; 0 while the database answers.',
      registers,
    }),
    databaseOutages: new Counter({
      name: 'modelgate_database_outages_total',
      help: 'Database outages this process has seen (each from the first failed check until it answered again).',
      registers,
    }),
    bufferPending: new Gauge({
      name: 'modelgate_buffer_pending',
      help: 'Records waiting to be written to the database, by buffer (kept through an outage up to a bound).',
      labelNames: ['buffer'],
      registers,
    }),
    bufferDropped: new Counter({
      name: 'modelgate_buffer_dropped_total',
      help: 'Records dropped because their buffer was full (a database outage longer than the buffer holds).',
      labelNames: ['buffer'],
      registers,
    }),
  };
  // Series that exist from the start, so rate() and absent() work before the first event.
  for (const result of reloadResults) metrics.reloads.inc({ result }, 0);
  for (const origin of artifactOrigins) metrics.initArtifactOrigin.set({ origin }, 0);
  metrics.ready.set(0);
  metrics.schemaCompatible.set(0);
  metrics.models.set(0);
  metrics.databaseUp.set(1);
  metrics.databaseUnreachableSeconds.set(0);
  byRegistry.set(registry, metrics);
  return metrics;
}

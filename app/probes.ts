import { Router } from 'express';
import type { Registry } from 'prom-client';
import type { FreshnessLimits } from '../core/artifact/freshness';
import type { InitReport } from '../core/artifact/report';
import type { Logger } from '../core/logger';
import type { Catalog } from './catalog/catalog';
import type { DatabaseHealth } from './database-health';
import type { Metrics } from './metrics';
import { evaluateReadiness, type Readiness } from './readiness';
import type { SchemaView } from './schema-monitor';
import { artifactAgeSeconds, buildStatus } from './status';

export interface Probes {
  readiness(): Readiness;
  status(): ReturnType<typeof buildStatus>;
  /** Brings the time-dependent gauges up to date right before a scrape. */
  beforeScrape(): void;
}

export function createProbes(options: {
  catalog: Catalog & { problem(): string | undefined };
  schema: { view(): SchemaView; compatible(): boolean };
  initReport: { current(): InitReport | undefined };
  draining: () => boolean;
  metrics: Pick<Metrics, 'ready' | 'artifactAge'>;
  pod: string;
  version: string;
  /** MODELS_MAX_AGE and MODELS_MAX_STALE, for the freshness in /status. */
  limits: FreshnessLimits;
  startedAt?: number;
  now?: () => number;
  /** The outage detector: /status says `degraded` during an outage (readiness does not change). */
  database?: Pick<DatabaseHealth, 'view' | 'refreshMetrics'>;
  /** The API's own state for /status (e.g. whether key revocations are being received). */
  describeApi?: () => unknown;
  /** Readiness changes are logged once each, with the reasons. */
  logger?: Logger;
}): Probes {
  const now = options.now ?? Date.now;
  const startedAt = options.startedAt ?? now();
  let wasReady: boolean | undefined;
  const readiness = (): Readiness => {
    const result = evaluateReadiness({
      artifactProblem: () => options.catalog.problem(),
      schemaCompatible: () => options.schema.compatible(),
      schemaReason: () => {
        const view = options.schema.view();
        return 'reason' in view ? view.reason : 'the database schema is not compatible';
      },
      draining: options.draining,
    });
    options.metrics.ready.set(result.ready ? 1 : 0);
    if (result.ready !== wasReady) {
      if (result.ready) options.logger?.info({ sinceStartMs: Math.round(process.uptime() * 1000) }, 'ready');
      else if (wasReady !== undefined) options.logger?.warn({ reasons: result.reasons }, 'not ready');
      wasReady = result.ready;
    }
    return result;
  };
  return {
    readiness,
    status: () =>
      buildStatus({
        readiness: readiness(),
        snapshot: options.catalog.current(),
        schema: options.schema.view(),
        initReport: options.initReport.current(),
        draining: options.draining(),
        pod: options.pod,
        version: options.version,
        startedAt,
        limits: options.limits,
        now: now(),
        database: options.database?.view(),
        api: options.describeApi?.(),
      }),
    beforeScrape() {
      readiness();
      options.database?.refreshMetrics();
      const age = artifactAgeSeconds(options.catalog.current(), now());
      if (age === undefined) options.metrics.artifactAge.reset();
      else options.metrics.artifactAge.set(age);
    },
  };
}

/** /livez, /readyz, /status and /metrics. */
export function probeRouter(probes: Probes, registry: Registry): Router {
  const router = Router();
  // Liveness checks nothing but that the event loop turns: a database outage must not restart every pod.
  router.get('/livez', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', (_req, res) => {
    const { ready, reasons } = probes.readiness();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', reasons });
  });
  router.get('/status', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(probes.status());
  });
  router.get('/metrics', async (_req, res, next) => {
    try {
      probes.beforeScrape();
      const body = await registry.metrics();
      res.setHeader('Content-Type', registry.contentType);
      res.send(body);
    } catch (error) {
      next(error);
    }
  });
  return router;
}

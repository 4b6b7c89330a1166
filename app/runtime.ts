import http from 'node:http';
import path from 'node:path';
import type { Router } from 'express';
import { Registry } from 'prom-client';
import { initReportPath } from '../core/artifact/report';
import type { AppConfig } from '../core/config';
import { createDatabase, createProbeConnection, type Knex } from '../core/db/connection';
import { componentLogger, type Logger } from '../core/logger';
import { packageVersion } from '../core/package-root';
import { createApp } from './app';
import { createDatabaseHealth, reportPoolFailures, type DatabaseHealth } from './database-health';
import { artifactLocations } from './artifact/sources';
import { createArtifactStore, type ArtifactStore } from './artifact/store';
import { watchDirectories } from './artifact/watch';
import type { Catalog } from './catalog/catalog';
import { createInitReportReader } from './init-report';
import { createMetrics } from './metrics';
import { createProbes, type Probes } from './probes';
import { createSchemaMonitor } from './schema-monitor';
import { createShutdown, type Shutdown } from './shutdown';

/** What the API module (app/api) receives; mirrors `ApiDeps` there. */
export interface RuntimeApiDeps {
  config: Readonly<AppConfig>;
  logger: Logger;
  db: Knex;
  catalog: Catalog;
  registry: Registry;
  health: DatabaseHealth;
}

/** What the API module returns; `start` runs after listen (e.g. LISTEN for key revocation), `close` at shutdown. */
export interface RuntimeApi {
  router: Router;
  start(): Promise<void>;
  close(): Promise<void>;
  /** Shown under `api` in /status. */
  describe?(): unknown;
}

export interface RuntimeOptions {
  config: Readonly<AppConfig>;
  logger: Logger;
  createApi?: (deps: RuntimeApiDeps) => RuntimeApi;
  exit: (code: number) => void;
  /** Where SIGTERM/SIGINT come from (the process; an EventEmitter in tests). */
  signals?: NodeJS.EventEmitter;
  pollIntervalMs?: number;
  schemaRetryMs?: number;
  /** Bound on releasing the pool and API listeners at shutdown. */
  releaseTimeoutMs?: number;
  /** Probe periods of the outage detector (tests shorten them). */
  databaseHealth?: { intervalMs?: number; retryMs?: number; probeTimeoutMs?: number };
}

export interface Runtime {
  server: http.Server;
  port: number;
  registry: Registry;
  db: Knex;
  health: DatabaseHealth;
  store: ArtifactStore;
  probes: Probes;
  shutdown: Shutdown;
}

/**
 * Wires and starts modelgate-app. Start-up does no heavy work: it reads the artifact, checks the schema version
 * (retrying while it is behind) and listens; readiness follows from those. It never migrates and never calls the
 * model source or the Kubernetes API.
 */
export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const { config, logger } = options;
  const startedAt = Date.now();
  const registry = new Registry();
  const metrics = createMetrics(registry);
  const db = createDatabase({
    url: config.database.url,
    poolMin: config.database.poolMin,
    poolMax: config.database.poolMax,
    applicationName: 'modelgate-app',
    logger: componentLogger(logger, 'db'),
    acquireTimeoutMs: config.database.connectTimeoutMs,
    connectTimeoutMs: config.database.connectTimeoutMs,
    queryTimeoutMs: config.database.queryTimeoutMs,
    staleBefore: () => health.lastOutageStart()?.getTime(),
  });
  // One outage detector for the whole process, fed by every failure of the pool (and by the API's listener).
  const probeConnection = createProbeConnection({
    url: config.database.url,
    connectTimeoutMs: config.database.connectTimeoutMs,
    queryTimeoutMs: config.database.queryTimeoutMs,
  });
  const health = createDatabaseHealth({
    probe: () => probeConnection.probe(),
    logger: componentLogger(logger, 'database'),
    metrics,
    ...options.databaseHealth,
  });
  reportPoolFailures(db, health);

  const limits = { maxAgeMs: config.models.maxAgeMs, maxStaleMs: config.models.maxStaleMs };
  const store = createArtifactStore({
    locations: artifactLocations(config.models.file, config.models.configMapDir),
    limits,
    logger: componentLogger(logger, 'catalog'),
    metrics,
  });
  const initReport = createInitReportReader({
    file: initReportPath(config.models.file),
    logger: componentLogger(logger, 'catalog'),
    metrics,
  });
  // Readiness is evaluated on probes, and also whenever an input changes, so the log says when it happened.
  let probesRef: Probes | undefined = undefined;
  // The API's background work (the revocation listener's own connection) waits for the first schema check, so it
  // does not compete with the connection readiness is waiting on.
  let listening = false;
  let schemaChecked = false;
  let apiStarted = false;
  const startApi = () => {
    if (apiStarted || !listening || !schemaChecked || !api) return;
    apiStarted = true;
    api.start().catch((error: unknown) => {
      logger.error({ err: error }, 'the API failed to start its background work');
    });
  };
  const schema = createSchemaMonitor({
    db,
    databaseUrl: config.database.url,
    logger: componentLogger(logger, 'schema'),
    metrics,
    retryMs: options.schemaRetryMs,
    onCheck: () => {
      void probesRef?.readiness();
      schemaChecked = true;
      startApi();
    },
  });
  schema.start();
  const loaded = Promise.all([store.reload(), initReport.reload()]);

  const api = options.createApi?.({
    config,
    logger,
    db,
    catalog: store,
    registry,
    health,
  });
  // The shutdown sequence needs the server, which needs the probes: the probes see it through this function.
  let draining = () => false;
  const probes = createProbes({
    catalog: store,
    schema,
    initReport,
    draining: () => draining(),
    metrics,
    pod: config.pod,
    version: packageVersion(),
    limits,
    startedAt,
    logger,
    database: health,
    describeApi: api?.describe ? () => api.describe?.() : undefined,
  });
  probesRef = probes;
  const app = createApp({ config, logger, registry, probes, api });
  const server = http.createServer(app);
  // Longer than the usual load-balancer idle timeout, so the balancer closes idle connections first.
  server.keepAliveTimeout = 65_000;

  const watch = watchDirectories({
    directories: [
      path.dirname(config.models.file),
      ...(config.models.configMapDir ? [config.models.configMapDir] : []),
    ],
    onChange: () => {
      void store.reload().then(() => probes.readiness());
      void initReport.reload();
    },
    logger,
    pollIntervalMs: options.pollIntervalMs,
  });

  const shutdown = createShutdown({
    server,
    logger,
    delayMs: config.shutdown.delayMs,
    timeoutMs: config.shutdown.timeoutMs,
    releaseTimeoutMs: options.releaseTimeoutMs,
    exit: options.exit,
    release: async () => {
      watch.close();
      health.stop();
      await schema.stop();
      try {
        await api?.close();
      } finally {
        await Promise.all([db.destroy(), probeConnection.close()]);
      }
    },
  });
  draining = () => shutdown.draining();
  const signals = options.signals ?? process;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) signals.on(signal, () => void shutdown.begin(signal));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.http.port, config.http.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  logger.info(
    { host: config.http.host, port, sinceStartMs: Math.round(process.uptime() * 1000) },
    'modelgate-app listening',
  );
  listening = true;
  health.start();
  startApi();
  await loaded;
  probes.readiness();
  const problem = store.problem();
  if (problem)
    logger.warn({ reason: problem }, 'not ready: no model artifact to serve yet; watching for one');
  return { server, port, registry, db, health, store, probes, shutdown };
}

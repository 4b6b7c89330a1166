import { Router } from 'express';
import type { Knex } from 'knex';
import type { Registry } from 'prom-client';
import type { AppConfig } from '../../core/config';
import { componentLogger, type Logger } from '../../core/logger';
import type { Catalog } from '../catalog/catalog';
import { createDatabaseHealth, reportPoolFailures, type DatabaseHealth } from '../database-health';
import { createMetrics } from '../metrics';
import { adminRoutes, requireAdmin } from './admin/admin-routes';
import { AdminService } from './admin/admin-service';
import { KnexUserStore } from './admin/user-store-knex';
import { chatCompletionRoutes } from './chat-completions/chat-completion-routes';
import { ChatCompletionService } from './chat-completions/chat-completion-service';
import { chatRoutes } from './chat-history/chat-routes';
import { ChatService } from './chat-history/chat-service';
import { KnexChatStore } from './chat-history/chat-store-knex';
import { embeddingRoutes } from './embeddings/embedding-routes';
import { CredentialCache } from './keys/credential-cache';
import { keyRoutes } from './keys/key-routes';
import { KeyService } from './keys/key-service';
import { KnexKeyStore } from './keys/key-store-knex';
import { LastUseRecorder } from './keys/last-use-recorder';
import { limitsAdmission } from './limits/admission';
import { createLimits, type LimitsTuning } from './limits/create-limits';
import { limitRoutes } from './limits/limit-routes';
import { RevocationListener } from './keys/revocation-listener';
import { ModelService } from './models/model-service';
import { modelRoutes } from './models/model-routes';
import { openApiDocument, openApiOperation } from './openapi';
import { mount } from './operations';
import { principal, requireApiKey } from './principal';
import { requireDatabase } from './require-database';
import { loadRouting, RoutingConfigError } from './routing/load-routing';
import type { RoutingOutcome } from './routing/outcome';
import { createRoutingService, type Admission, type RoutingView } from './routing/routing-service';
import type { CompletionListener } from './usage/completion-record';
import { createUsage, KEEP_ANSWER_BYTES } from './usage/create-usage';
import { adminUsageRoutes, usageRoutes } from './usage/usage-routes';

/** Timings with production defaults; tests shorten them. */
export interface ApiTuning {
  /** How long a key's credential is reused without a database read (while revocations are being received). */
  keyCacheTtlMs: number;
  keyCacheMaxEntries: number;
  /** last_used_at is written at most once per key per this interval. */
  lastUseResolutionMs: number;
  lastUseFlushIntervalMs: number;
  listenerHeartbeatMs: number;
  listenerVerifyTimeoutMs: number;
  listenerReconnectMs: number;
  /** Safety-net poll of ROUTING_FILE (its directory is watched as well). */
  routingPollMs: number;
}

export const defaultTuning: ApiTuning = {
  keyCacheTtlMs: 30_000,
  keyCacheMaxEntries: 10_000,
  lastUseResolutionMs: 60_000,
  lastUseFlushIntervalMs: 10_000,
  listenerHeartbeatMs: 30_000,
  listenerVerifyTimeoutMs: 5_000,
  listenerReconnectMs: 1_000,
  routingPollMs: 30_000,
};

export interface ApiDeps {
  config: Readonly<AppConfig>;
  logger: Logger;
  db: Knex;
  catalog: Catalog;
  registry: Registry;
  /** The runtime's outage detector; without one the API creates (and starts and stops) its own. */
  health?: DatabaseHealth;
  tuning?: Partial<ApiTuning>;
  /** Where the routing file's key variables are looked up; the process environment by default. */
  env?: NodeJS.ProcessEnv;
  /**
   * Asked before a chat completion or an embedding is sent upstream, ahead of the key's limits (which are always
   * asked); throws an ApiError to refuse it.
   */
  admit?: Admission;
  /** Every admitted request's outcome (upstream, usage, timings) once its answer is complete. */
  onOutcome?: (outcome: RoutingOutcome) => void;
  /** Told about every finished chat completion and embedding besides the usage ledger (per-key limits). */
  completionListeners?: readonly CompletionListener[];
  limitsTuning?: Partial<LimitsTuning>;
}

export interface ApiModule {
  /** Mounted by createApp at /api/v1 and /v1, behind its request ids, body parser, 404/405 and error handler. */
  router: Router;
  /** Opens the revocation listener and the background last-use flush. */
  start(): Promise<void>;
  /** Stops them and writes pending last-use times. */
  close(): Promise<void>;
  /** For /status and tests: whether revocations are being received and how many keys are cached. */
  describe(): ApiState;
}

export interface ApiState {
  revocationListener: 'connected' | 'disconnected';
  /** `enabled`: trusted for the normal path (revocations are received and the cache has caught up). */
  keyCache: { enabled: boolean; entries: number };
  pendingLastUse: number;
  droppedLastUse: number;
  usageLedger: { pending: number; dropped: number } | 'off';
  routing: RoutingView;
}

/** Routes that cannot do anything without the database: 503 database_unavailable at once during an outage. */
const DATABASE_ROUTES = ['/chat-history', '/auth/keys', '/admin', '/usage', '/limits'];

/** Builds the OpenAI-compatible API (keys, models, chat completions, chat storage, admin) without listening. */
export function createApiRouter(deps: ApiDeps): ApiModule {
  const { config, db, catalog } = deps;
  const tuning = { ...defaultTuning, ...deps.tuning };
  const logger = componentLogger(deps.logger, 'api');
  const metrics = createMetrics(deps.registry);

  const ownHealth = deps.health === undefined;
  const health =
    deps.health ??
    createDatabaseHealth({
      probe: () => db.raw('SELECT 1'),
      logger: componentLogger(deps.logger, 'database'),
      metrics,
    });
  if (ownHealth) reportPoolFailures(db, health);

  const keyStore = new KnexKeyStore(db);
  const cache = new CredentialCache({
    ttlMs: tuning.keyCacheTtlMs,
    outageTtlMs: config.keys.cacheOutageTtlMs,
    maxEntries: tuning.keyCacheMaxEntries,
  });
  const lastUse = new LastUseRecorder(keyStore, logger, {
    resolutionMs: tuning.lastUseResolutionMs,
    flushIntervalMs: tuning.lastUseFlushIntervalMs,
    maxPending: tuning.keyCacheMaxEntries,
    health,
    metrics,
  });
  const keys = new KeyService(keyStore, cache, lastUse, health, logger);
  const listener = new RevocationListener({
    url: config.database.url,
    db,
    cache,
    catchUp: () => keys.catchUp(),
    health,
    logger,
    connectTimeoutMs: config.database.connectTimeoutMs,
    heartbeatMs: tuning.listenerHeartbeatMs,
    verifyTimeoutMs: tuning.listenerVerifyTimeoutMs,
    reconnectMs: tuning.listenerReconnectMs,
  });
  // During an outage the cache may miss revocations: it is read only through `recall` until it has caught up
  // (before the database counts as reachable again) and the listener has proven NOTIFYs arrive (then trusted).
  health.beforeReachable(() => keys.catchUp());
  health.on('down', () => cache.setTrusted(false));
  health.on('up', () => void listener.renew(health.lastOutageStart()));
  const models = new ModelService(catalog);
  const env = deps.env ?? process.env;
  const loaded = loadRouting(config, env);
  if (!loaded.ok) throw new RoutingConfigError(loaded.problems);
  const limits = createLimits({
    config,
    db,
    logger: componentLogger(deps.logger, 'limits'),
    registry: deps.registry,
    health,
    tuning: deps.limitsTuning,
  });
  const usage = createUsage({
    config,
    db,
    logger,
    registry: deps.registry,
    health,
    // The limits settle each reservation made on an estimate with the record's real count.
    listeners: [limits.service, ...(deps.completionListeners ?? [])],
  });
  const limitsAdmit = limitsAdmission(limits.service);
  const extraAdmit = deps.admit;
  const routing = createRoutingService({
    initial: loaded.routing,
    file: config.routing.file,
    env,
    logger,
    registry: deps.registry,
    // The key's policy is asked last, so a request another admission refuses has reserved nothing.
    admit: extraAdmit
      ? async (request, res) => {
          await extraAdmit(request, res);
          await limitsAdmit(request, res);
        }
      : limitsAdmit,
    onOutcome: (outcome) => {
      usage.onOutcome(outcome);
      deps.onOutcome?.(outcome);
    },
    usage: { keepBytes: KEEP_ANSWER_BYTES },
    pollIntervalMs: tuning.routingPollMs,
  });
  const completions = new ChatCompletionService({ models, defaultModel: config.defaultModel });
  const auth = requireApiKey(keys);

  // One router for every operation, in this order: a request walks the routes before its own, so the proxied
  // endpoints, which carry nearly all the traffic, come first. A router of its own per module would add one more
  // router to walk (its dispatch and the request's URL trimmed and restored) for each module passed on the way.
  const router = Router();
  chatCompletionRoutes(router, completions, routing, auth);
  embeddingRoutes(router, models, routing, auth);
  let openApiJson: Buffer | undefined;
  mount(router, openApiOperation, [], (_input, _req, res) => {
    openApiJson ??= Buffer.from(JSON.stringify(openApiDocument()));
    res.type('application/json').send(openApiJson);
  });
  router.use(DATABASE_ROUTES, requireDatabase(health));
  adminRoutes(router, new AdminService(new KnexUserStore(db)), config.adminToken);
  keyRoutes(router, keys, auth);
  modelRoutes(router, models, auth, (res) => limits.service.modelFilter(principal(res)));
  limitRoutes(router, limits.service, auth, config.adminToken);
  chatRoutes(router, new ChatService(new KnexChatStore(db)), auth);
  usageRoutes(router, usage.service, auth);
  adminUsageRoutes(router, usage.service, requireAdmin(config.adminToken));

  return {
    router,
    async start() {
      if (ownHealth) health.start();
      usage.start();
      routing.start();
      lastUse.start();
      limits.start();
      await listener.start();
    },
    async close() {
      await listener.close();
      await lastUse.stop();
      routing.close();
      // After the HTTP drain: every answered request has its record (settling its limits); write them before the
      // pool closes, then give back the permits this process holds.
      await usage.close();
      await limits.close();
      if (ownHealth) health.stop();
    },
    describe() {
      return {
        revocationListener: listener.connected ? 'connected' : 'disconnected',
        keyCache: { enabled: cache.isTrusted, entries: cache.size },
        pendingLastUse: lastUse.pendingCount,
        droppedLastUse: lastUse.droppedCount,
        usageLedger: usage.ledger
          ? { pending: usage.ledger.pendingCount, dropped: usage.ledger.droppedCount }
          : 'off',
        routing: routing.view(),
      };
    },
  };
}

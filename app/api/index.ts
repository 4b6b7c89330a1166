import { Router } from 'express';
import type { Knex } from 'knex';
import type { Registry } from 'prom-client';
import type { Config } from '../../core/config';
import { componentLogger, type Logger } from '../../core/logger';
import type { Catalog } from '../catalog/catalog';
import { createMetrics } from '../metrics';
import { adminRoutes } from './admin/admin-routes';
import { AdminService } from './admin/admin-service';
import { KnexUserStore } from './admin/user-store-knex';
import { chatCompletionRoutes } from './chat-completions/chat-completion-routes';
import { ChatCompletionService } from './chat-completions/chat-completion-service';
import { UpstreamProxy } from './chat-completions/upstream-proxy';
import { chatRoutes } from './chat-history/chat-routes';
import { ChatService } from './chat-history/chat-service';
import { KnexChatStore } from './chat-history/chat-store-knex';
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
}

export const defaultTuning: ApiTuning = {
  keyCacheTtlMs: 30_000,
  keyCacheMaxEntries: 10_000,
  lastUseResolutionMs: 60_000,
  lastUseFlushIntervalMs: 10_000,
  listenerHeartbeatMs: 30_000,
  listenerVerifyTimeoutMs: 5_000,
  listenerReconnectMs: 1_000,
};

export interface ApiDeps {
  config: Readonly<Config>;
  logger: Logger;
  db: Knex;
  catalog: Catalog;
  registry: Registry;
  tuning?: Partial<ApiTuning>;
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
  keyCache: { enabled: boolean; entries: number };
  pendingLastUse: number;
}

/** Builds the OpenAI-compatible API (keys, models, chat completions, chat storage, admin) without listening. */
export function createApiRouter(deps: ApiDeps): ApiModule {
  const { config, db, catalog } = deps;
  const tuning = { ...defaultTuning, ...deps.tuning };
  const logger = componentLogger(deps.logger, 'api');
  const metrics = createMetrics(deps.registry);

  const keyStore = new KnexKeyStore(db);
  const cache = new CredentialCache({ ttlMs: tuning.keyCacheTtlMs, maxEntries: tuning.keyCacheMaxEntries });
  const lastUse = new LastUseRecorder(keyStore, logger, {
    resolutionMs: tuning.lastUseResolutionMs,
    flushIntervalMs: tuning.lastUseFlushIntervalMs,
  });
  const listener = new RevocationListener({
    url: config.database.url,
    db,
    cache,
    logger,
    heartbeatMs: tuning.listenerHeartbeatMs,
    verifyTimeoutMs: tuning.listenerVerifyTimeoutMs,
    reconnectMs: tuning.listenerReconnectMs,
  });
  const keys = new KeyService(keyStore, cache, lastUse, logger);
  const models = new ModelService(catalog);
  const upstream = new UpstreamProxy({
    url: config.upstream.url,
    apiKey: config.upstream.apiKey,
    timeoutMs: config.upstream.timeoutMs,
    logger,
    metrics: { duration: metrics.upstreamRequestDuration, errors: metrics.upstreamErrors },
  });
  const completions = new ChatCompletionService({
    models,
    defaultModel: config.defaultModel,
    modelField: config.upstream.modelField,
  });
  const auth = requireApiKey(keys);
  const limits = createLimits({
    config,
    db,
    logger: componentLogger(deps.logger, 'limits'),
    registry: deps.registry,
    tuning: deps.limitsTuning,
  });

  const router = Router();
  let openApiJson: Buffer | undefined;
  mount(router, openApiOperation, [], (_input, _req, res) => {
    openApiJson ??= Buffer.from(JSON.stringify(openApiDocument()));
    res.type('application/json').send(openApiJson);
  });
  router.use(adminRoutes(new AdminService(new KnexUserStore(db)), config.adminToken));
  router.use(keyRoutes(keys, auth));
  router.use(modelRoutes(models, auth, (res) => limits.service.modelFilter(principal(res))));
  router.use(chatCompletionRoutes(completions, upstream, auth, limitsAdmission(limits.service)));
  router.use(limitRoutes(limits.service, auth, config.adminToken));
  router.use(chatRoutes(new ChatService(new KnexChatStore(db)), auth));

  return {
    router,
    async start() {
      lastUse.start();
      limits.start();
      await listener.start();
    },
    async close() {
      await listener.close();
      await lastUse.stop();
      await limits.close();
      upstream.close();
    },
    describe() {
      return {
        revocationListener: listener.connected ? 'connected' : 'disconnected',
        keyCache: { enabled: cache.isEnabled, entries: cache.size },
        pendingLastUse: lastUse.pendingCount,
      };
    },
  };
}

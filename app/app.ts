import express, { type Express, type RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import type { Config } from '../core/config';
import type { Logger } from '../core/logger';
import { errorHandler, notFound } from './http/errors';
import { observeRequests } from './http/observe';
import { requestId } from './http/request-id';
import { captureRouteTemplate } from './http/route-template';
import { createMetrics } from './metrics';
import { probeRouter, type Probes } from './probes';

/** The API's express router (app/api); mounted at /api/v1 (the origin's prefix) and /v1 (OpenAI SDK default). */
export interface MountableApi {
  router: RequestHandler;
}

export interface AppDeps {
  config: Readonly<Config>;
  logger: Logger;
  registry: Registry;
  probes: Probes;
  api?: MountableApi;
}

export const API_PREFIXES = ['/api/v1', '/v1'] as const;

/** Builds the express app without listening. */
export function createApp(deps: AppDeps): Express {
  const { config, logger, registry } = deps;
  const metrics = createMetrics(registry);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestId());
  app.use(captureRouteTemplate());
  app.use(observeRequests({ logger, metrics }));
  app.use(probeRouter(deps.probes, registry));
  if (deps.api) {
    const json = express.json({ limit: config.http.bodyLimit });
    for (const prefix of API_PREFIXES) app.use(prefix, json, deps.api.router);
  }
  app.use(notFound());
  app.use(errorHandler({ logger, bodyLimit: config.http.bodyLimit }));
  return app;
}

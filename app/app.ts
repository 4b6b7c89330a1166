import express, { type Express, type RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import type { AppConfig } from '../core/config';
import type { Logger } from '../core/logger';
import { packageVersion } from '../core/package-root';
import { docsRouter } from './docs/docs-routes';
import { errorHandler, notFound } from './http/errors';
import { homeRouter } from './http/home';
import { answerOptions, methodNotAllowed } from './http/methods';
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
  config: Readonly<AppConfig>;
  logger: Logger;
  registry: Registry;
  probes: Probes;
  api?: MountableApi;
  /** Where /docs finds Swagger UI's files (tests point it elsewhere); by default dist/docs or node_modules. */
  docsAssetDir?: () => string | undefined;
}

export const API_PREFIXES = ['/api/v1', '/v1'] as const;

/**
 * Builds the express app without listening: the one HTTP stack of production, every test and every benchmark.
 * Request ids, route capture and the access log come first, then the API; the 405, 404 and error handler last.
 */
export function createApp(deps: AppDeps): Express {
  const { config, logger, registry } = deps;
  const metrics = createMetrics(registry);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestId());
  captureRouteTemplate(app);
  app.use(observeRequests({ logger, metrics }));
  app.use(answerOptions(app));
  // The API before the home page, probes and docs: nearly every request is an API request, and each router it
  // passes on its way costs it (their paths never overlap).
  if (deps.api) {
    // One layer for both prefixes: a /v1 request does not first pass the /api/v1 body parser and API layers.
    app.use([...API_PREFIXES], express.json({ limit: config.http.bodyLimit }), deps.api.router);
  }
  app.use(homeRouter({ version: packageVersion(), api: deps.api !== undefined }));
  app.use(probeRouter(deps.probes, registry));
  if (deps.api) app.use(docsRouter({ assetDir: deps.docsAssetDir }));
  app.use(methodNotAllowed(app));
  app.use(notFound());
  app.use(errorHandler({ logger, bodyLimit: config.http.bodyLimit }));
  return app;
}

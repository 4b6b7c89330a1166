import express, { type Express } from 'express';
import type { Config } from '../core/config';
import type { Logger } from '../core/logger';

export interface AppDeps {
  config: Readonly<Config>;
  logger: Logger;
}

/** Builds the express app without listening. */
export function createApp(_deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/livez', (_req, res) => {
    res.json({ status: 'ok' });
  });
  return app;
}

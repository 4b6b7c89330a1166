// @ts-check
// The gateway for `npm run bench:api`, in its own process: the built app (dist/) made by createApp as production
// makes it (request ids, access log at info level, route capture, metrics, 404/405 and error handler) around the
// real API; and, as the baseline, a bare express `GET /hello` on a second port of the same process.
// Prints {"port","helloPort"} when ready. The access log goes to /dev/null: its cost is measured, not its output.
import http from 'node:http';
import { createRequire } from 'node:module';
import express from 'express';
import pino from 'pino';
import { Registry } from 'prom-client';
import { artifactModels } from '../test/support/models.mjs';

const require = createRequire(import.meta.url);
const { loadConfig } = require('../dist/core/config/index.js');
const { createLogger } = require('../dist/core/logger.js');
const { createDatabase } = require('../dist/core/db/connection.js');
const { createApiRouter } = require('../dist/app/api/index.js');
const { createApp } = require('../dist/app/app.js');
const { createSnapshot, staticCatalog } = require('../dist/app/catalog/catalog.js');
const { buildArtifact } = require('../dist/core/artifact/schema.js');

const config = loadConfig('app', { ...process.env, LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info' });
const logger = createLogger({
  component: 'bench-api',
  level: config.logLevel,
  destination: pino.destination({ dest: '/dev/null', sync: true }),
});
const db = createDatabase({ url: config.database.url, poolMax: config.database.poolMax });
// About the size of the origin's live catalog; the /models body grows with it (about 190 bytes per model).
const models = artifactModels(Number(process.env.BENCH_MODELS ?? 25), {
  fields: () => ({
    tags: ['bench'],
    createdAt: 1_745_330_395,
    owner: '0xowner',
    stake: '100000000000000000000',
  }),
});
const artifact = buildArtifact({
  models,
  source: { url: 'file:///bench/models.json', etag: null, lastModified: null },
  fetchedAt: new Date().toISOString(),
});
const registry = new Registry();
const api = createApiRouter({
  config,
  logger,
  db,
  catalog: staticCatalog(createSnapshot(artifact, 'bench')),
  registry,
});
await api.start();
const probes = {
  readiness: () => ({ ready: true, reasons: [] }),
  status: () => /** @type {any} */ ({ api: api.describe() }),
  beforeScrape: () => undefined,
};
const server = http.createServer(createApp({ config, logger, registry, probes, api }));
server.keepAliveTimeout = 60_000;

const bare = express();
bare.disable('x-powered-by');
bare.set('etag', false);
bare.get('/hello', (_req, res) => {
  res.json({ hello: 'world' });
});
const baseline = http.createServer(bare);
baseline.keepAliveTimeout = 60_000;

/** @param {http.Server} s @returns {Promise<number>} */
const listen = (s) =>
  new Promise((resolve) =>
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    }),
  );
const [port, helloPort] = [await listen(server), await listen(baseline)];
process.stdout.write(`${JSON.stringify({ port, helloPort })}\n`);
process.once('SIGTERM', async () => {
  // Let requests the load generator left in flight finish before the pool goes away.
  const closed = Promise.all(
    [server, baseline].map((s) => new Promise((resolve) => s.close(() => resolve(undefined)))),
  );
  server.closeIdleConnections();
  baseline.closeIdleConnections();
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  server.closeAllConnections();
  baseline.closeAllConnections();
  await api.close();
  await db.destroy();
  process.exit(0);
});

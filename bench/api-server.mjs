// @ts-check
// The gateway API for `npm run bench:api`, in its own process: the built router (dist/) at /api/v1 with the
// runtime's request-id header, beside a bare express route `GET /hello` as the baseline. Prints {"port"} when ready.
import http from 'node:http';
import { createRequire } from 'node:module';
import express from 'express';
import { Registry } from 'prom-client';
import { artifactModels } from '../test/support/models.mjs';

const require = createRequire(import.meta.url);
const { loadConfig } = require('../dist/core/config/index.js');
const { createLogger } = require('../dist/core/logger.js');
const { createDatabase } = require('../dist/core/db/connection.js');
const { createApiRouter } = require('../dist/app/api/index.js');
const { createSnapshot, staticCatalog } = require('../dist/app/catalog/catalog.js');
const { buildArtifact } = require('../dist/core/artifact/schema.js');

const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn' });
const logger = createLogger({ component: 'bench-api', level: 'warn', destination: process.stderr });
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
const api = createApiRouter({
  config,
  logger,
  db,
  catalog: staticCatalog(createSnapshot(artifact, 'bench')),
  registry: new Registry(),
});
await api.start();

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.get('/hello', (_req, res) => {
  res.json({ hello: 'world' });
});
app.use('/api/v1', api.router);
const server = http.createServer(app);
server.keepAliveTimeout = 60_000;
await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
const address = server.address();
process.stdout.write(
  `${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`,
);
process.once('SIGTERM', async () => {
  // Let requests the load generator left in flight finish before the pool goes away.
  const closed = new Promise((resolve) => server.close(() => resolve(undefined)));
  server.closeIdleConnections();
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  server.closeAllConnections();
  await api.close();
  await db.destroy();
  process.exit(0);
});

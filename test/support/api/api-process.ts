// A gateway process for multi-process tests: the app (createApp) with the real API over DATABASE_URL on 127.0.0.1,
// the test catalog.
// Prints one JSON line {"port"} when listening; SIGTERM closes it. Run with `node -r ./swc-register.js`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { loadConfig } from '../../../core/config';
import { createLogger } from '../../../core/logger';
import { createDatabase } from '../../../core/db/connection';
import { createApiRouter } from '../../../app/api';
import { createApp } from '../../../app/app';
import { testCatalog } from './catalog';
import { stubProbes } from './stub-probes';

async function main(): Promise<void> {
  const config = loadConfig('app', { ...process.env, PORT: '0', HOST: '127.0.0.1' });
  const logger = createLogger({
    component: 'api-process',
    level: config.logLevel,
    destination: process.stderr as never,
    secrets: [config.adminToken],
  });
  const db = createDatabase({ url: config.database.url, poolMax: 5 });
  const registry = new Registry();
  const api = createApiRouter({
    config,
    logger,
    db,
    catalog: testCatalog(),
    registry,
    tuning: { keyCacheTtlMs: 3_600_000 },
  });
  await api.start();
  // /status shows the API's state (revocation listener, key cache) as the runtime's does.
  const app = createApp({ config, logger, registry, probes: stubProbes(() => api.describe()), api });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  process.once('SIGTERM', () => {
    server.closeAllConnections();
    server.close();
    void api
      .close()
      .then(() => db.destroy())
      .then(() => process.exit(0));
  });
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

import fs from 'node:fs';
import path from 'node:path';
import { createDatabase } from '../../../core/db/connection';
import { migratorConfig } from '../../../core/db/migrations';
import { UpstreamServer } from '../../support/api/upstream-server';
import { modelsFile, startAppBinary, type AppProcess } from '../../support/app/app-binary';
import { call } from '../../support/http';
import { untilReady } from '../../support/wait';

export const ADMIN_TOKEN = 'outage-admin-token-0123456789abcdef0123456';

export interface Gateway {
  app: AppProcess;
  upstream: UpstreamServer;
  /** Stops the app and the upstream, removes the models file. */
  stop(): Promise<void>;
}

/** modelgate-app (the built binary) on `databaseUrl` with the test catalog and an upstream on loopback, ready. */
export async function startGateway(databaseUrl: string, env: Record<string, string> = {}): Promise<Gateway> {
  const upstream = await new UpstreamServer().start();
  const models = modelsFile();
  let app: AppProcess | undefined;
  const stop = async () => {
    await app?.stop();
    await upstream.close();
    fs.rmSync(path.dirname(models), { recursive: true, force: true });
  };
  try {
    app = await startAppBinary({
      DATABASE_URL: databaseUrl,
      MODELS_FILE: models,
      UPSTREAM_URL: upstream.url,
      ADMIN_TOKEN,
      LOG_LEVEL: 'info',
      ...env,
    });
    await untilReady(app.url);
    return { app, upstream, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export async function migrate(url: string): Promise<void> {
  const db = createDatabase({ url, poolMax: 1 });
  try {
    await db.migrate.latest(migratorConfig());
  } finally {
    await db.destroy();
  }
}

export async function createUser(base: string, name: string): Promise<{ key: string; keyId: string }> {
  const created = await call(base, 'POST', '/v1/admin/users', ADMIN_TOKEN, { name });
  if (created.status !== 201)
    throw new Error(`creating a user failed: ${created.status} ${JSON.stringify(created.body)}`);
  return { key: created.body.key.key, keyId: created.body.key.id };
}

export const completion = (content: string, stream = false) => ({
  model: 'mistral-31-24b',
  messages: [{ role: 'user', content }],
  stream,
});

export const embedding = (input: string) => ({ model: 'text-embedding', input });

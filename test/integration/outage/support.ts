import { createDatabase } from '../../../core/db/connection';
import { migratorConfig } from '../../../core/db/migrations';
import { call } from '../../support/http';

export const ADMIN_TOKEN = 'outage-admin-token-0123456789abcdef0123456';

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

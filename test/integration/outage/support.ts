import path from 'node:path';
import { buildArtifact } from '../../../core/artifact/schema';
import { createDatabase } from '../../../core/db/connection';
import { migratorConfig } from '../../../core/db/migrations';
import { writeArtifactFile } from '../../support/artifacts';
import { getJson, type Json } from '../../support/http';
import { testModels } from '../../support/api/catalog';
import { tempDir } from '../../support/temp.mjs';

export const ADMIN_TOKEN = 'outage-admin-token-0123456789abcdef0123456';

/** An artifact file as modelgate-init writes it, in a fresh directory. */
export function writeModelsFile(): { dir: string; file: string } {
  const dir = tempDir('outage');
  const file = path.join(dir, 'models.json');
  const artifact = buildArtifact({
    models: testModels,
    source: { url: 'file:///test/models.json', etag: null, lastModified: null },
    fetchedAt: new Date().toISOString(),
  });
  writeArtifactFile(file, artifact);
  return { dir, file };
}

export async function migrate(url: string): Promise<void> {
  const db = createDatabase({ url, poolMax: 1 });
  try {
    await db.migrate.latest(migratorConfig());
  } finally {
    await db.destroy();
  }
}

export interface Answer {
  status: number;
  body: Json;
  headers: Headers;
  ms: number;
}

/** One API call with a bearer token (an API key or ADMIN_TOKEN); `status` 0 when the connection failed. */
export async function call(
  base: string,
  method: string,
  route: string,
  token?: string,
  body?: unknown,
): Promise<Answer> {
  const started = Date.now();
  try {
    const res = await getJson(`${base}${route}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { ...res, ms: Date.now() - started };
  } catch (error) {
    return { status: 0, body: String(error), headers: new Headers(), ms: Date.now() - started };
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

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

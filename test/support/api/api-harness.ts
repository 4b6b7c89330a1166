import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { loadConfig } from '../../../core/config';
import { createLogger } from '../../../core/logger';
import type { Catalog } from '../../../app/catalog/catalog';
import { createApiRouter, type ApiDeps, type ApiModule, type ApiTuning } from '../../../app/api';
import { createApp } from '../../../app/app';
import { createTestDatabase, type TestDatabase } from '../database';
import { assertMatchesOpenApi } from './openapi-validator';
import { testCatalog } from './catalog';
import { stubProbes } from './stub-probes';

export { testCatalog, testModels } from './catalog';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef0123456789';

export interface ApiHarnessOptions {
  env?: Record<string, string>;
  catalog?: Catalog;
  tuning?: Partial<ApiTuning>;
  /** Reuse a database (e.g. two servers on one database). */
  database?: TestDatabase;
  /** The routing hooks a limiter or a usage ledger would give. */
  hooks?: Pick<ApiDeps, 'admit' | 'onOutcome'>;
}

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  key?: string;
  body?: unknown;
  /** Sent as is (not JSON-encoded). */
  raw?: string;
  headers?: Record<string, string>;
  /** Skip the OpenAPI check (for deliberately malformed requests whose answers are still checked). */
  unchecked?: boolean;
}

/** One log line collector per test file: everything the API logs goes here, to be searched for secrets. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
}

export interface ApiHarness {
  url: string;
  database: TestDatabase;
  api: ApiModule;
  logs: LogCapture;
  registry: Registry;
  /** Every secret handed out in this harness (keys, admin token, database password): never to be logged. */
  secrets: string[];
  // Tests read response bodies loosely; the OpenAPI check already validated their shape.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  request<T = any>(method: string, path: string, options?: RequestOptions): Promise<ApiResponse<T>>;
  /** Creates a user through the admin route and returns its id and first key. */
  createUser(name?: string): Promise<{ userId: string; key: string; keyId: string }>;
  close(): Promise<void>;
}

let users = 0;

export async function startApi(options: ApiHarnessOptions = {}): Promise<ApiHarness> {
  const ownDatabase = !options.database;
  const database = options.database ?? (await createTestDatabase('api'));
  if (ownDatabase) await database.migrateLatest();
  const config = loadConfig('app', {
    DATABASE_URL: database.url,
    ADMIN_TOKEN,
    LOG_LEVEL: 'debug',
    BODY_LIMIT: '64kb',
    ...options.env,
  });
  const logs = new LogCapture();
  const registry = new Registry();
  const logger = createLogger({
    component: 'test',
    level: 'debug',
    destination: logs,
    secrets: [ADMIN_TOKEN],
  });
  const api = createApiRouter({
    config,
    logger,
    db: database.db,
    catalog: options.catalog ?? testCatalog(),
    registry,
    tuning: options.tuning,
    ...options.hooks,
  });
  await api.start();
  // The production stack (request ids, body parser, access log, 404/405, error handler) around the real API.
  const app = createApp({ config, logger, registry, probes: stubProbes(() => api.describe()), api });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const secrets = [ADMIN_TOKEN, database.url, `:${new URL(database.url).password}@`];

  const request = async <T>(
    method: string,
    path: string,
    opts: RequestOptions = {},
  ): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.key) headers.authorization = `Bearer ${opts.key}`;
    let body: string | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${url}${path}`, { method, headers, body });
    const text = await response.text();
    const contentType = response.headers.get('content-type') ?? '';
    const parsed = contentType.startsWith('application/json') ? (JSON.parse(text) as T) : (text as T);
    if (!opts.unchecked)
      assertMatchesOpenApi(method, path, response.status, contentType, parsed, response.headers);
    return { status: response.status, headers: response.headers, body: parsed, text };
  };

  const createUser = async (name = `user-${process.pid}-${(users += 1)}`) => {
    const res = await request<{ user: { id: string }; key: { id: string; key: string } }>(
      'POST',
      '/api/v1/admin/users',
      {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        body: { name },
      },
    );
    if (res.status !== 201) throw new Error(`creating a user failed: ${res.status} ${res.text}`);
    secrets.push(res.body.key.key);
    return { userId: res.body.user.id, key: res.body.key.key, keyId: res.body.key.id };
  };

  return {
    url,
    database,
    api,
    logs,
    registry,
    secrets,
    request,
    createUser,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await api.close();
      if (ownDatabase) await database.drop();
    },
  };
}

/** Fails when any captured log line contains one of the secrets (or any sk- key at all). */
export function expectNoSecretsLogged(harness: Pick<ApiHarness, 'logs' | 'secrets'>): void {
  const leaks = harness.logs.lines.filter(
    (line) =>
      harness.secrets.some((s) => s && line.includes(s)) || /sk-[0-9a-f]{12}\.[A-Za-z0-9_-]{20,}/.test(line),
  );
  expect(leaks).toEqual([]);
}

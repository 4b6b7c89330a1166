import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { ADMIN_TOKEN } from '../../support/api/api-harness';

interface GatewayProcess {
  child: ChildProcess;
  url: string;
  stderr: string[];
}

const support = path.join(__dirname, '..', '..', 'support', 'api');

function startGateway(databaseUrl: string): Promise<GatewayProcess> {
  const child = spawn(
    process.execPath,
    ['-r', path.join(support, 'swc-register.js'), path.join(support, 'api-process.ts')],
    {
      env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl, ADMIN_TOKEN, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const stderr: string[] = [];
  readline.createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  return new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).once('line', (line) => {
      const { port } = JSON.parse(line) as { port: number };
      resolve({ child, url: `http://127.0.0.1:${port}`, stderr });
    });
    child.once('exit', (code) =>
      reject(new Error(`gateway process exited with ${code}: ${stderr.join('\n')}`)),
    );
  });
}

async function stopGateway(gateway: GatewayProcess): Promise<void> {
  if (gateway.child.exitCode !== null) return;
  const exited = new Promise((resolve) => gateway.child.once('exit', resolve));
  gateway.child.kill('SIGTERM');
  await exited;
}

async function call(url: string, method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function until<T>(
  what: string,
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  ms: number,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (done(value)) return Date.now() - started;
    if (Date.now() - started > ms)
      throw new Error(`${what}: not within ${ms} ms (last: ${JSON.stringify(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

jest.setTimeout(60_000);

describe('key revocation across two gateway processes on one database', () => {
  let database: TestDatabase;
  let a: GatewayProcess;
  let b: GatewayProcess;

  beforeAll(async () => {
    database = await createTestDatabase('api_revoke');
    await database.migrateLatest();
    [a, b] = await Promise.all([startGateway(database.url), startGateway(database.url)]);
  });
  afterAll(async () => {
    await Promise.all([a, b].filter(Boolean).map(stopGateway));
    await database.drop();
  });

  it('a key revoked through one process is refused by the other within 1 second, although it was cached there', async () => {
    const created = await call(a.url, 'POST', '/api/v1/admin/users', ADMIN_TOKEN, { name: 'two-pods' });
    expect(created.status).toBe(201);
    const key: string = created.body.key.key;
    const second = await call(a.url, 'POST', '/v1/auth/keys', key, { name: 'second' });
    expect(second.status).toBe(201);

    for (const gateway of [a, b]) {
      await until(
        'revocation listener verified',
        () => call(gateway.url, 'GET', '/status', ''),
        (s) => s.body.api.keyCache.enabled,
        10_000,
      );
      expect((await call(gateway.url, 'GET', '/v1/models', second.body.key)).status).toBe(200);
    }
    // b now serves this key from its cache (TTL one hour in these processes): only the NOTIFY can evict it.
    expect((await call(b.url, 'GET', '/status', '')).body.api.keyCache.entries).toBeGreaterThanOrEqual(1);

    const revoked = await call(a.url, 'DELETE', `/v1/auth/keys/${second.body.id}`, key);
    expect(revoked.status).toBe(200);
    // A request sent one second after the revocation is refused (asserted at +1 s rather than by timing requests,
    // so a loaded machine cannot make it flaky); without the NOTIFY, b would serve its cached copy for an hour.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const refused = await call(b.url, 'GET', '/v1/models', second.body.key);
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('revoked_api_key');
    expect((await call(a.url, 'GET', '/v1/models', second.body.key)).status).toBe(401);
    expect((await call(b.url, 'GET', '/v1/models', key)).status).toBe(200);
    for (const gateway of [a, b]) expect(gateway.stderr.join('\n')).not.toContain(second.body.key);
  });

  it('with its listener cut off, a process stops caching and still refuses revoked keys immediately', async () => {
    const created = await call(a.url, 'POST', '/api/v1/admin/users', ADMIN_TOKEN, { name: 'listener-cut' });
    const key: string = created.body.key.key;
    const extra = await call(a.url, 'POST', '/v1/auth/keys', key, {});
    expect((await call(b.url, 'GET', '/v1/models', extra.body.key)).status).toBe(200);
    // Kill b's LISTEN connection from the database side.
    await database.db.raw(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'modelgate-key-revocation' AND datname = current_database()",
    );
    await until(
      'b notices',
      () => call(b.url, 'GET', '/status', ''),
      (s) => s.body.api.keyCache.enabled === false || s.body.api.keyCache.entries === 0,
      5_000,
    );
    expect((await call(a.url, 'DELETE', `/v1/auth/keys/${extra.body.id}`, key)).status).toBe(200);
    expect((await call(b.url, 'GET', '/v1/models', extra.body.key)).status).toBe(401);
    // And it reconnects and caches again.
    await until(
      'b reconnects',
      () => call(b.url, 'GET', '/status', ''),
      (s) => s.body.api.revocationListener === 'connected' && s.body.api.keyCache.enabled,
      10_000,
    );
  });
});

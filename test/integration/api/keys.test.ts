import { createHash } from 'node:crypto';
import { ADMIN_TOKEN, expectNoSecretsLogged, startApi, type ApiHarness } from '../../support/api/api-harness';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

jest.setTimeout(60_000);

describe('API keys and admin routes (real PostgreSQL)', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApi({ tuning: { lastUseResolutionMs: 60_000, lastUseFlushIntervalMs: 3_600_000 } });
  });
  afterAll(async () => {
    expectNoSecretsLogged(h);
    await h.close();
  });

  it('admin creates a user with a first key shown once; only prefix and SHA-256 of the secret are stored', async () => {
    const res = await h.request('POST', '/api/v1/admin/users', { headers: admin, body: { name: 'alice' } });
    expect(res.status).toBe(201);
    const key: string = res.body.key.key;
    h.secrets.push(key);
    expect(key).toMatch(/^sk-[0-9a-f]{12}\.[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(key.split('.')[1]!, 'base64url')).toHaveLength(32);
    const row = await h.database.db('api_keys').where({ id: res.body.key.id }).first();
    expect(row.prefix).toBe(key.slice(3, 15));
    expect(Buffer.compare(row.secret_sha256, createHash('sha256').update(key.split('.')[1]!).digest())).toBe(
      0,
    );
    expect(JSON.stringify(row)).not.toContain(key.split('.')[1]!);
    const listed = await h.request('GET', '/v1/auth/keys', { key });
    expect(listed.status).toBe(200);
    expect(listed.text).not.toContain(key.split('.')[1]!);
    expect(listed.body.data[0].prefix).toBe(key.slice(0, 15));
    const again = await h.request('POST', '/api/v1/admin/users', { headers: admin, body: { name: 'alice' } });
    expect(again.status).toBe(409);
    expect(again.body.error.param).toBe('name');
  });

  it('admin routes need the admin token (constant-time compare) and validate the body', async () => {
    expect((await h.request('POST', '/api/v1/admin/users', { body: { name: 'x' } })).status).toBe(401);
    const wrong = await h.request('POST', '/api/v1/admin/users', {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}x` },
      body: { name: 'x' },
    });
    expect(wrong.status).toBe(401);
    const { key } = await h.createUser();
    expect((await h.request('GET', '/api/v1/admin/users', { key })).status).toBe(401);
    const invalid = await h.request('POST', '/api/v1/admin/users', { headers: admin, body: { name: 7 } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.param).toBe('name');
    const listed = await h.request('GET', '/api/v1/admin/users?limit=1', { headers: admin });
    expect(listed.status).toBe(200);
    expect(listed.body.data).toHaveLength(1);
    expect(listed.body.has_more).toBe(true);
  });

  it('admin routes answer 404 when ADMIN_TOKEN is unset', async () => {
    const other = await startApi({ env: { ADMIN_TOKEN: '' }, database: h.database });
    try {
      const res = await other.request('POST', '/api/v1/admin/users', {
        headers: admin,
        body: { name: 'bob' },
      });
      expect(res.status).toBe(404);
    } finally {
      await other.close();
    }
  });

  it('refuses missing, malformed, unknown and wrong-secret keys with 401 in the OpenAI shape', async () => {
    const { key } = await h.createUser();
    const missing = await h.request('GET', '/v1/models');
    expect(missing.status).toBe(401);
    expect(missing.body.error).toMatchObject({ type: 'authentication_error', code: 'missing_api_key' });
    for (const bad of [
      'sk-nope',
      `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`,
      `sk-000000000000.${'a'.repeat(43)}`,
    ]) {
      const res = await h.request('GET', '/v1/models', { key: bad });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('invalid_api_key');
    }
    expect((await h.request('GET', '/v1/models', { key })).status).toBe(200);
  });

  it("users list, create and revoke their own keys; another user's key is a 404", async () => {
    const alice = await h.createUser();
    const bob = await h.createUser();
    const created = await h.request('POST', '/api/v1/auth/keys', {
      key: alice.key,
      body: { name: 'laptop' },
    });
    expect(created.status).toBe(201);
    h.secrets.push(created.body.key);
    expect(created.body.name).toBe('laptop');
    const list = await h.request('GET', '/api/v1/auth/keys', { key: alice.key });
    expect(list.body.data.map((k: { id: string }) => k.id).sort()).toEqual(
      [alice.keyId, created.body.id].sort(),
    );
    expect(list.body.total).toBe(2);

    expect((await h.request('DELETE', `/api/v1/auth/keys/${created.body.id}`, { key: bob.key })).status).toBe(
      404,
    );
    expect((await h.request('DELETE', `/api/v1/auth/keys/not-a-uuid`, { key: bob.key })).status).toBe(404);
    expect((await h.request('GET', '/v1/models', { key: created.body.key })).status).toBe(200);

    const revoked = await h.request('DELETE', `/api/v1/auth/keys/${created.body.id}`, { key: alice.key });
    expect(revoked.status).toBe(200);
    expect(revoked.body.is_active).toBe(false);
    expect(revoked.body.revoked_at).not.toBeNull();
    const refused = await h.request('GET', '/v1/models', { key: created.body.key });
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('revoked_api_key');
    expect((await h.request('GET', '/v1/models', { key: alice.key })).status).toBe(200);
  });

  it('a user can revoke the key they are using; the next request with it is refused', async () => {
    const carol = await h.createUser();
    expect((await h.request('DELETE', `/v1/auth/keys/${carol.keyId}`, { key: carol.key })).status).toBe(200);
    expect((await h.request('GET', '/v1/auth/keys', { key: carol.key })).status).toBe(401);
  });

  it('a deactivated user is refused', async () => {
    const dave = await h.createUser();
    expect((await h.request('GET', '/v1/models', { key: dave.key })).status).toBe(200);
    await h.database.db('users').where({ id: dave.userId }).update({ is_active: false });
    await h.database.db.raw("SELECT pg_notify('modelgate_api_key_revoked', '*')");
    const deadline = Date.now() + 5_000;
    let status = 200;
    while (status === 200 && Date.now() < deadline)
      status = (await h.request('GET', '/v1/models', { key: dave.key })).status;
    expect(status).toBe(401);
  });

  it('last_used_at is written in the background, not by the request', async () => {
    const erin = await h.createUser();
    for (let i = 0; i < 5; i += 1)
      expect((await h.request('GET', '/v1/models', { key: erin.key })).status).toBe(200);
    const before = await h.database.db('api_keys').where({ id: erin.keyId }).first('last_used_at');
    expect(before.last_used_at).toBeNull();
    await h.api.close(); // flushes pending uses
    await h.api.start();
    const after = await h.database.db('api_keys').where({ id: erin.keyId }).first('last_used_at');
    expect(after.last_used_at).toBeInstanceOf(Date);
  });
});

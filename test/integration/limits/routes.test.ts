import { ADMIN_TOKEN, expectNoSecretsLogged, startApi, type ApiHarness } from '../../support/api/api-harness';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

jest.setTimeout(60_000);

describe('limit routes (real PostgreSQL, answers checked against the OpenAPI document)', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApi();
  });
  afterAll(async () => {
    expectNoSecretsLogged(h);
    await h.close();
  });

  it("a key inherits its user's defaults where it sets nothing; GET shows the sources", async () => {
    const { userId, keyId, key } = await h.createUser();
    const user = await h.request('PUT', `/v1/admin/users/${userId}/limits`, {
      headers: admin,
      body: { requests_per_minute: 60, allowed_models: ['mistral-*'] },
    });
    expect(user.status).toBe(200);
    expect(user.body).toEqual({
      object: 'user_limits',
      user_id: userId,
      allowed_models: ['mistral-*'],
      requests_per_minute: 60,
      tokens_per_minute: null,
      monthly_token_budget: null,
    });
    const set = await h.request('PUT', `/v1/admin/keys/${keyId}/limits`, {
      headers: admin,
      body: { requests_per_minute: 10, monthly_token_budget: 5_000 },
    });
    expect(set.status).toBe(200);
    expect(set.body.effective).toMatchObject({
      allowed_models: ['mistral-*'],
      requests_per_minute: 10,
      monthly_token_budget: 5_000,
      tokens_per_minute: null,
      sources: {
        allowed_models: 'user',
        requests_per_minute: 'key',
        monthly_token_budget: 'key',
        tokens_per_minute: 'none',
      },
    });
    expect(set.body.windows.map((w: { limit: string }) => w.limit)).toEqual([
      'requests_per_minute',
      'monthly_token_budget',
    ]);

    const own = await h.request('GET', '/v1/limits', { key });
    expect(own.status).toBe(200);
    expect(own.body.key_id).toBe(keyId);
    expect(own.body.windows[0]).toMatchObject({ max: 10, used: 0, remaining: 10, resets_at: null });
    expect((await h.request('GET', `/v1/auth/keys/${keyId}/limits`, { key })).status).toBe(200);
    expect((await h.request('GET', `/v1/admin/keys/${keyId}/limits`, { headers: admin })).body).toEqual(
      own.body,
    );

    // PUT replaces: what is left out is no longer set on the key.
    const cleared = await h.request('PUT', `/v1/admin/keys/${keyId}/limits`, { headers: admin, body: {} });
    expect(cleared.body.key.requests_per_minute).toBeNull();
    expect(cleared.body.effective).toMatchObject({ requests_per_minute: 60, monthly_token_budget: null });
  });

  it("someone else's key or user is a 404; the admin routes need the admin token", async () => {
    const alice = await h.createUser();
    const bob = await h.createUser();
    const other = await h.request('GET', `/v1/auth/keys/${bob.keyId}/limits`, { key: alice.key });
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('key_not_found');
    expect((await h.request('GET', '/v1/auth/keys/not-a-uuid/limits', { key: alice.key })).status).toBe(404);
    expect((await h.request('GET', `/v1/admin/keys/${alice.keyId}/limits`, { key: alice.key })).status).toBe(
      401,
    );
    const missing = await h.request('PUT', `/v1/admin/users/00000000-0000-4000-8000-000000000000/limits`, {
      headers: admin,
      body: { requests_per_minute: 1 },
    });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('user_not_found');
  });

  it('refuses a malformed policy naming the field', async () => {
    const { keyId } = await h.createUser();
    const negative = await h.request('PUT', `/v1/admin/keys/${keyId}/limits`, {
      headers: admin,
      body: { tokens_per_minute: -1 },
    });
    expect(negative.status).toBe(400);
    expect(negative.body.error.param).toBe('tokens_per_minute');
    const unknown = await h.request('PUT', `/v1/admin/keys/${keyId}/limits`, {
      headers: admin,
      body: { rpm: 5 },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toContain('rpm');
    const empty = await h.request('PUT', `/v1/admin/keys/${keyId}/limits`, {
      headers: admin,
      body: { allowed_models: [''] },
    });
    expect(empty.status).toBe(400);
    expect(empty.body.error.param).toBe('allowed_models[0]');
  });
});

import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { KnexCounterStore } from '../../../app/api/limits/counter-store-knex';
import { KnexPolicyStore } from '../../../app/api/limits/policy-store-knex';
import { UNSET_POLICY } from '../../../app/api/limits/policy';
import { createDatabase } from '../../../core/db/connection';
import { createTestDatabase, type TestDatabase } from '../../support/database';

jest.setTimeout(60_000);

async function seedKey(db: Knex): Promise<{ userId: string; keyId: string }> {
  const [user] = await db('users')
    .insert({ name: `u-${randomBytes(4).toString('hex')}` })
    .returning('id');
  const [key] = await db('api_keys')
    .insert({ user_id: user.id, prefix: randomBytes(6).toString('hex'), secret_sha256: randomBytes(32) })
    .returning('id');
  return { userId: user.id, keyId: key.id };
}

describe('limit stores on real PostgreSQL', () => {
  let testDb: TestDatabase;
  /** A wide pool, so takes really run side by side on many connections. */
  let wide: Knex;
  beforeAll(async () => {
    testDb = await createTestDatabase('limit_stores');
    await testDb.migrateLatest();
    wide = createDatabase({ url: testDb.url, poolMax: 20, applicationName: 'modelgate-test' });
  });
  afterAll(async () => {
    await wide?.destroy();
    await testDb?.drop();
  });

  it('hands out exactly the limit to 600 concurrent takes on 20 connections, partial grants included', async () => {
    const store = new KnexCounterStore(wide, { windowMs: 60_000 });
    const { keyId } = await seedKey(testDb.db);
    const results = await Promise.all(
      Array.from({ length: 600 }, (_, i) =>
        store.take(keyId, [
          { dimension: 'requests', want: 1, limit: 120 },
          { dimension: 'tokens', want: 1 + (i % 7), limit: 1_000 },
        ]),
      ),
    );
    const granted = (dimension: string) =>
      results
        .flatMap((r) => r.grants)
        .filter((g) => g.dimension === dimension)
        .reduce((n, g) => n + g.granted, 0);
    expect(granted('requests')).toBe(120);
    expect(granted('tokens')).toBe(1_000);
    const refused = results.flatMap((r) => r.grants).filter((g) => g.granted === 0);
    expect(refused.length).toBeGreaterThan(0);
    const windowEnds = new Set(results.flatMap((r) => r.grants).map((g) => g.windowEnd));
    expect(windowEnds.size).toBeLessThanOrEqual(2); // one window per dimension, the same for every take
    const rows = await testDb.db('limit_windows').where({ key_id: keyId }).orderBy('dimension');
    expect(rows.map((r) => [r.dimension, Number(r.taken)])).toEqual([
      ['requests', 120],
      ['tokens', 1_000],
    ]);
  });

  it('starts a window with the first take after the last one ended; give-backs and charges apply to their window only', async () => {
    const store = new KnexCounterStore(testDb.db, { windowMs: 300 });
    const { keyId } = await seedKey(testDb.db);
    const first = await store.take(keyId, [{ dimension: 'requests', want: 5, limit: 5 }]);
    const grant = first.grants[0]!;
    expect(grant).toMatchObject({ granted: 5, taken: 5, limit: 5 });
    expect(grant.windowEnd - first.now).toBe(300);
    expect((await store.take(keyId, [{ dimension: 'requests', want: 1, limit: 5 }])).grants[0]).toMatchObject(
      {
        granted: 0,
        windowEnd: grant.windowEnd,
      },
    );
    await store.adjust(keyId, [{ dimension: 'requests', windowEnd: grant.windowEnd, delta: -2 }]);
    expect((await store.take(keyId, [{ dimension: 'requests', want: 3, limit: 5 }])).grants[0]).toMatchObject(
      {
        granted: 2,
        taken: 5,
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 350));
    await store.adjust(keyId, [{ dimension: 'requests', windowEnd: grant.windowEnd, delta: -5 }]);
    const next = await store.take(keyId, [{ dimension: 'requests', want: 1, limit: 5 }]);
    expect(next.grants[0]!.windowEnd).toBeGreaterThan(grant.windowEnd);
    expect(next.grants[0]).toMatchObject({ granted: 1, taken: 1 });
    await store.adjust(keyId, [{ dimension: 'requests', windowEnd: next.grants[0]!.windowEnd, delta: 10 }]);
    expect((await store.take(keyId, [{ dimension: 'requests', want: 1, limit: 5 }])).grants[0]).toMatchObject(
      {
        granted: 0,
        taken: 11,
      },
    );
  });

  it('counts a budget per calendar month in UTC, durably (a logged table)', async () => {
    const store = new KnexCounterStore(testDb.db, { windowMs: 60_000 });
    const { keyId } = await seedKey(testDb.db);
    const result = await store.take(keyId, [{ dimension: 'budget', want: 400, limit: 1_000 }]);
    const now = new Date(result.now);
    expect(result.grants[0]).toMatchObject({
      granted: 400,
      windowEnd: Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1),
    });
    const [persistence] = await testDb.db
      .raw(
        "SELECT relname, relpersistence FROM pg_class WHERE relname IN ('limit_budgets', 'limit_windows') ORDER BY relname",
      )
      .then((r: { rows: { relname: string; relpersistence: string }[] }) =>
        r.rows.map((row) => row.relpersistence),
      );
    expect(persistence).toBe('p');
  });

  it('reads and replaces user and key policies; a key read gives both', async () => {
    const store = new KnexPolicyStore(testDb.db);
    const { userId, keyId } = await seedKey(testDb.db);
    expect(await store.findForKey(keyId)).toEqual({ keyId, userId, user: null, key: null });
    expect(await store.getUser(userId)).toEqual(UNSET_POLICY);
    const userPolicy = {
      allowedModels: ['gpt-*', 'mistral'],
      requestsPerMinute: 60,
      tokensPerMinute: null,
      monthlyTokenBudget: 5_000_000_000,
    };
    expect(await store.setUser(userId, userPolicy)).toEqual(userPolicy);
    const keyPolicy = { ...UNSET_POLICY, requestsPerMinute: 10 };
    expect(await store.setKey(keyId, keyPolicy)).toEqual({ userId, policy: keyPolicy });
    expect(await store.findForKey(keyId)).toEqual({ keyId, userId, user: userPolicy, key: keyPolicy });
    expect(await store.setUser(userId, UNSET_POLICY)).toEqual(UNSET_POLICY);
    expect((await store.findForKey(keyId))?.user).toEqual(UNSET_POLICY);
    const unknown = '00000000-0000-4000-8000-000000000000';
    expect(await store.findForKey(unknown)).toBeUndefined();
    expect(await store.getKey(unknown)).toBeUndefined();
    expect(await store.setKey(unknown, keyPolicy)).toBeUndefined();
    expect(await store.setUser(unknown, keyPolicy)).toBeUndefined();
    await expect(store.setKey(keyId, { ...UNSET_POLICY, tokensPerMinute: -1 })).rejects.toThrow(
      /non_negative/,
    );
  });
});

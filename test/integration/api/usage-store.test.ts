import { randomUUID } from 'node:crypto';
import { recordId } from '../../../app/api/usage/record-id';
import type { LedgerEntry } from '../../../app/api/usage/usage-store';
import { KnexUsageStore } from '../../../app/api/usage/usage-store-knex';
import { createTestDatabase, type TestDatabase } from '../../support/database';

const alice = randomUUID();
const bob = randomUUID();
const aliceKey = randomUUID();
const aliceOtherKey = randomUUID();
const bobKey = randomUUID();

function entry(overrides: Partial<LedgerEntry>): LedgerEntry {
  const at = overrides.at ?? new Date('2026-11-24T12:00:00Z');
  return {
    id: recordId(at.getTime()),
    requestId: randomUUID(),
    keyId: aliceKey,
    userId: alice,
    kind: 'chat',
    model: 'mistral',
    upstream: 'a',
    upstreamModel: 'mistral-upstream',
    status: 200,
    promptTokens: 10,
    completionTokens: 20,
    estimated: false,
    durationMs: 100,
    ttftMs: 20,
    at,
    ...overrides,
  };
}

describe('usage store on PostgreSQL', () => {
  let testDb: TestDatabase;
  let store: KnexUsageStore;
  const range = { from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-12-01T00:00:00Z') };

  beforeAll(async () => {
    testDb = await createTestDatabase('usage_store');
    await testDb.migrateLatest();
    store = new KnexUsageStore(testDb.db);
    const entries = [
      // 23:59:59 UTC belongs to the 24th, 00:00 to the 25th, whatever the server's time zone.
      entry({ at: new Date('2026-11-24T23:59:59Z') }),
      entry({ at: new Date('2026-11-25T00:00:00Z'), estimated: true, promptTokens: 7, completionTokens: 0 }),
      entry({
        at: new Date('2026-11-25T08:00:00Z'),
        status: 502,
        promptTokens: 0,
        completionTokens: 0,
        upstream: null,
      }),
      entry({ at: new Date('2026-11-25T09:00:00Z'), kind: 'embedding', model: 'embed', completionTokens: 0 }),
      entry({ keyId: aliceOtherKey, at: new Date('2026-11-25T10:00:00Z') }),
      entry({ keyId: bobKey, userId: bob, at: new Date('2026-11-25T11:00:00Z'), promptTokens: 1000 }),
      // Outside the range.
      entry({ at: new Date('2026-10-31T23:59:59Z') }),
      entry({ at: new Date('2026-12-01T00:00:00Z') }),
    ];
    expect(await store.insert(entries)).toBe(entries.length);
    expect(await store.insert(entries.slice(0, 3))).toBe(0);
  });
  afterAll(async () => {
    await testDb?.drop();
  });

  it('writes a batch of 4,000 in one statement', async () => {
    const many = Array.from({ length: 4_000 }, () =>
      entry({ userId: randomUUID(), at: new Date('2026-09-01T00:00:00Z') }),
    );
    expect(await store.insert(many)).toBe(4_000);
  });

  it('totals a user per UTC day and model', async () => {
    expect(await store.daily({ ...range, userId: alice })).toEqual([
      {
        date: '2026-11-24',
        model: 'mistral',
        requests: 1,
        failedRequests: 0,
        estimatedRequests: 0,
        promptTokens: 10,
        completionTokens: 20,
      },
      {
        date: '2026-11-25',
        model: 'embed',
        requests: 1,
        failedRequests: 0,
        estimatedRequests: 0,
        promptTokens: 10,
        completionTokens: 0,
      },
      {
        date: '2026-11-25',
        model: 'mistral',
        requests: 3,
        failedRequests: 1,
        estimatedRequests: 1,
        promptTokens: 17,
        completionTokens: 20,
      },
    ]);
    expect(await store.daily({ ...range, userId: alice, keyId: aliceOtherKey })).toEqual([
      expect.objectContaining({ date: '2026-11-25', model: 'mistral', requests: 1 }),
    ]);
    expect(await store.daily({ ...range, userId: alice, model: 'embed' })).toHaveLength(1);
    expect(await store.daily({ ...range, userId: randomUUID() })).toEqual([]);
  });

  it('groups per user, key and model, a page at a time', async () => {
    const all = await store.grouped(range, { skip: 0, limit: 100 });
    expect(all.total).toBe(4);
    const bobs = all.items.filter((g) => g.userId === bob);
    expect(bobs).toEqual([
      {
        userId: bob,
        keyId: bobKey,
        model: 'mistral',
        requests: 1,
        failedRequests: 0,
        estimatedRequests: 0,
        promptTokens: 1000,
        completionTokens: 20,
      },
    ]);
    const page = await store.grouped(range, { skip: 1, limit: 2 });
    expect(page).toEqual({ items: all.items.slice(1, 3), total: 4 });
    expect(
      (await store.grouped({ ...range, userId: alice, model: 'mistral' }, { skip: 0, limit: 10 })).total,
    ).toBe(2);
  });

  it('finds who owns a key and whether a user exists', async () => {
    const [user] = await testDb.db('users').insert({ name: 'owner' }).returning('id');
    const [key] = await testDb
      .db('api_keys')
      .insert({ user_id: user.id, prefix: 'ab12cd34ef56', secret_sha256: Buffer.alloc(32) })
      .returning('id');
    expect(await store.keyOwner(key.id)).toBe(user.id);
    expect(await store.keyOwner(randomUUID())).toBeUndefined();
    expect(await store.userExists(user.id)).toBe(true);
    expect(await store.userExists(randomUUID())).toBe(false);
  });
});

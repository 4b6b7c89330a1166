import fs from 'node:fs';
import { randomBytes, createHash } from 'node:crypto';
import type { Knex } from 'knex';
import {
  migrationsDirectory,
  migratorConfig,
  schemaState,
  REQUIRED_MIGRATION,
} from '../../core/db/migrations';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * Backstage-style migration test: for each migration, migrate to just before it, seed rows, go up, check, go down,
 * check what must survive. Finally latest -> zero leaves no table behind.
 */
const files = fs
  .readdirSync(migrationsDirectory())
  .filter((f) => f.endsWith('.js'))
  .sort();
const config = migratorConfig();

async function migrateUpTo(db: Knex, target: string): Promise<void> {
  // Apply every migration before `target`, one at a time.
  for (const file of files) {
    if (file === target) return;
    const [, pending] = (await db.migrate.list(config)) as [unknown, { file: string }[]];
    if (pending.some((p) => p.file === file)) await db.migrate.up({ ...config, name: file });
  }
}

async function tables(db: Knex): Promise<string[]> {
  const rows: { tablename: string }[] = await db('pg_tables')
    .where({ schemaname: 'public' })
    .select('tablename');
  return rows
    .map((r) => r.tablename)
    .filter((t) => !t.startsWith('knex_'))
    .sort();
}

async function indexes(db: Knex, table: string): Promise<string[]> {
  const rows: { indexname: string }[] = await db('pg_indexes')
    .where({ tablename: table })
    .select('indexname');
  return rows.map((r) => r.indexname).sort();
}

async function seedUser(db: Knex, name = `user-${randomBytes(3).toString('hex')}`): Promise<string> {
  const [row] = await db('users').insert({ name }).returning('id');
  return row.id;
}

interface Case {
  before(db: Knex): Promise<void>;
  after(db: Knex): Promise<void>;
  down(db: Knex): Promise<void>;
}

const cases: Record<string, Case> = {
  '20261124100000_create_users.js': {
    before: async (db) => expect(await tables(db)).toEqual([]),
    after: async (db) => {
      const id = await seedUser(db, 'alice');
      const [row] = await db('users').where({ id });
      expect(row).toMatchObject({ name: 'alice', is_active: true });
      await expect(db('users').insert({ name: 'alice' })).rejects.toThrow(/unique/);
    },
    down: async (db) => expect(await tables(db)).toEqual([]),
  },
  '20261124100100_create_api_keys.js': {
    before: async (db) => {
      await seedUser(db, 'keeps-its-row');
    },
    after: async (db) => {
      const userId = await seedUser(db);
      const sha = createHash('sha256').update('secret').digest();
      await db('api_keys').insert({ user_id: userId, prefix: 'ab12cd34', secret_sha256: sha });
      await expect(
        db('api_keys').insert({ user_id: userId, prefix: 'ab12cd34', secret_sha256: sha }),
      ).rejects.toThrow(/unique/);
      await db('users').where({ id: userId }).delete();
      expect(await db('api_keys').count({ n: '*' })).toEqual([{ n: '0' }]);
    },
    down: async (db) => {
      expect(await tables(db)).toEqual(['users']);
      expect(await db('users').where({ name: 'keeps-its-row' })).toHaveLength(1);
    },
  },
  '20261124100200_create_chats.js': {
    before: async () => {},
    after: async (db) => {
      const userId = await seedUser(db);
      await db('chats').insert({ user_id: userId, title: 'hello' });
      expect(await indexes(db, 'chats')).toContain('chats_user_updated_idx');
      await db('users').where({ id: userId }).delete();
      expect(await db('chats').count({ n: '*' })).toEqual([{ n: '0' }]);
    },
    down: async (db) => expect(await tables(db)).toEqual(['api_keys', 'users']),
  },
  '20261124100300_create_messages.js': {
    before: async (db) => {
      const userId = await seedUser(db, 'chat-owner');
      await db('chats').insert({ user_id: userId, title: 'survives' });
    },
    after: async (db) => {
      const [chat] = await db('chats').where({ title: 'survives' });
      await db('messages').insert({ chat_id: chat.id, role: 'user', content: 'hi', sequence: 1 });
      await expect(
        db('messages').insert({ chat_id: chat.id, role: 'user', content: 'again', sequence: 1 }),
      ).rejects.toThrow(/messages_chat_sequence_key/);
      await expect(
        db('messages').insert({ chat_id: chat.id, role: 'robot', content: 'x', sequence: 2 }),
      ).rejects.toThrow(/messages_role_check/);
      await db('chats').where({ id: chat.id }).delete();
      expect(await db('messages').count({ n: '*' })).toEqual([{ n: '0' }]);
      await db('chats').insert({ user_id: chat.user_id, title: 'survives' });
    },
    down: async (db) => {
      expect(await tables(db)).toEqual(['api_keys', 'chats', 'users']);
      expect(await db('chats').where({ title: 'survives' })).toHaveLength(1);
    },
  },
  '20261124100400_index_api_keys_user_created.js': {
    before: async (db) => {
      expect(await indexes(db, 'api_keys')).not.toContain('api_keys_user_created_idx');
    },
    after: async (db) => {
      expect(await indexes(db, 'api_keys')).toContain('api_keys_user_created_idx');
      const [valid] = await db
        .raw(
          "SELECT bool_and(indisvalid) AS ok FROM pg_index JOIN pg_class ON pg_class.oid = indexrelid WHERE relname = 'api_keys_user_created_idx'",
        )
        .then((r: { rows: { ok: boolean }[] }) => r.rows);
      expect(valid).toEqual({ ok: true });
    },
    down: async (db) => {
      expect(await indexes(db, 'api_keys')).not.toContain('api_keys_user_created_idx');
      expect(await tables(db)).toEqual(['api_keys', 'chats', 'messages', 'users']);
    },
  },
  '20261202114838_create_limits.js': {
    before: async (db) => {
      const userId = await seedUser(db, 'limited');
      await db('api_keys').insert({
        user_id: userId,
        prefix: 'limits000001',
        secret_sha256: Buffer.alloc(32),
      });
    },
    after: async (db) => {
      expect(await tables(db)).toEqual(
        expect.arrayContaining(['key_limits', 'limit_budgets', 'limit_windows', 'user_limits']),
      );
      const [key] = await db('api_keys').where({ prefix: 'limits000001' });
      await db('user_limits').insert({
        user_id: key.user_id,
        allowed_models: ['gpt-*'],
        requests_per_minute: 60,
      });
      await db('key_limits').insert({ key_id: key.id, tokens_per_minute: 1000 });
      const [merged] = await db('key_limits as kl')
        .join('api_keys as k', 'k.id', 'kl.key_id')
        .join('user_limits as ul', 'ul.user_id', 'k.user_id')
        .select(
          'ul.allowed_models',
          'ul.requests_per_minute',
          'kl.tokens_per_minute',
          'kl.monthly_token_budget',
        );
      expect(merged).toEqual({
        allowed_models: ['gpt-*'],
        requests_per_minute: 60,
        tokens_per_minute: '1000',
        monthly_token_budget: null,
      });
      await expect(
        db('key_limits').where({ key_id: key.id }).update({ requests_per_minute: -1 }),
      ).rejects.toThrow(/key_limits_non_negative/);
      const window = {
        key_id: key.id,
        window_start: new Date(),
        window_end: new Date(),
        taken: 1,
        last_grant: 1,
        lim: 5,
      };
      await db('limit_windows').insert({ ...window, dimension: 'requests' });
      await db('limit_budgets').insert({ ...window, dimension: 'budget' });
      await expect(db('limit_windows').insert({ ...window, dimension: 'budget' })).rejects.toThrow(/check/);
      const persistence = await db('pg_class')
        .whereIn('relname', ['limit_windows', 'limit_budgets'])
        .orderBy('relname')
        .select('relname', 'relpersistence');
      expect(persistence).toEqual([
        { relname: 'limit_budgets', relpersistence: 'p' },
        { relname: 'limit_windows', relpersistence: 'u' },
      ]);
      // Revoked keys keep their rows; a deleted key (its user deleted) takes its limits and counters along.
      const otherUser = await seedUser(db);
      const [other] = await db('api_keys')
        .insert({ user_id: otherUser, prefix: 'limits000002', secret_sha256: Buffer.alloc(32) })
        .returning('id');
      await db('key_limits').insert({ key_id: other.id, requests_per_minute: 1 });
      await db('limit_windows').insert({ ...window, key_id: other.id, dimension: 'tokens' });
      await db('users').where({ id: otherUser }).delete();
      expect(await db('key_limits').where({ key_id: other.id })).toHaveLength(0);
      expect(await db('limit_windows').where({ key_id: other.id })).toHaveLength(0);
    },
    down: async (db) => {
      expect(await tables(db)).toEqual(['api_keys', 'chats', 'messages', 'users']);
      expect(await db('api_keys').where({ prefix: 'limits000001' })).toHaveLength(1);
      expect(await db('users').where({ name: 'limited' })).toHaveLength(1);
    },
  },
  '20261202115435_create_usage_records.js': {
    before: async (db) => {
      await seedUser(db, 'has-usage-later');
    },
    after: async (db) => {
      const row = {
        id: '01890000-0000-7000-8000-000000000001',
        request_id: 'req-1',
        key_id: '00000000-0000-4000-8000-000000000001',
        user_id: '00000000-0000-4000-8000-0000000000aa',
        kind: 'chat',
        model: 'm',
        status: 200,
        prompt_tokens: 3,
        completion_tokens: 5,
        estimated: false,
        duration_ms: 10,
        created_at: new Date(),
      };
      // No foreign keys: a record outlives its key and user (neither exists here).
      await db('usage_records').insert(row);
      await expect(db('usage_records').insert(row)).rejects.toThrow(/usage_records_pkey/);
      await expect(
        db('usage_records').insert({ ...row, id: '01890000-0000-7000-8000-000000000002', kind: 'image' }),
      ).rejects.toThrow(/usage_records_kind_check/);
      await expect(
        db('usage_records').insert({ ...row, id: '01890000-0000-7000-8000-000000000003', prompt_tokens: -1 }),
      ).rejects.toThrow(/usage_records_tokens_check/);
      expect(await indexes(db, 'usage_records')).toEqual([
        'usage_records_created_idx',
        'usage_records_key_created_idx',
        'usage_records_pkey',
        'usage_records_user_created_idx',
      ]);
    },
    down: async (db) => {
      expect(await tables(db)).toEqual([
        'api_keys',
        'chats',
        'key_limits',
        'limit_budgets',
        'limit_windows',
        'messages',
        'user_limits',
        'users',
      ]);
      expect(await db('users').where({ name: 'has-usage-later' })).toHaveLength(1);
    },
  },
};

describe('migrations on real PostgreSQL', () => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await createTestDatabase('migrations');
  });
  afterAll(async () => {
    await testDb?.drop();
  });

  it('has a test case for every migration', () => {
    expect(Object.keys(cases).sort()).toEqual(files);
  });

  describe.each(files)('%s', (file) => {
    it('goes up and down keeping the data it should', async () => {
      const db = testDb.db;
      await db.migrate.rollback(config, true);
      await migrateUpTo(db, file);
      const testCase = cases[file]!;
      await testCase.before(db);
      await db.migrate.up({ ...config, name: file });
      await testCase.after(db);
      await db.migrate.down({ ...config, name: file });
      await testCase.down(db);
    });
  });

  it('up to latest then down to zero leaves no table behind', async () => {
    const db = testDb.db;
    await db.migrate.rollback(config, true);
    for (const table of await tables(db)) await db.schema.dropTable(table).catch(() => undefined);
    await db.raw('DROP TABLE IF EXISTS usage_records, messages, chats, api_keys, users CASCADE');
    await db.migrate.latest(config);
    expect(await tables(db)).toEqual([
      'api_keys',
      'chats',
      'key_limits',
      'limit_budgets',
      'limit_windows',
      'messages',
      'usage_records',
      'user_limits',
      'users',
    ]);
    expect(await schemaState(db)).toMatchObject({
      compatible: true,
      latestApplied: REQUIRED_MIGRATION,
      ahead: false,
    });
    await db.migrate.rollback(config, true);
    expect(await tables(db)).toEqual([]);
    expect(await schemaState(db)).toMatchObject({ compatible: false });
  });
});

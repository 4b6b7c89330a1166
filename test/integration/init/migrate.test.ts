import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { migrationFiles } from '../../../init/db/migrate';
import { LOCK_KEYS } from '../../../init/db/advisory-lock';
import { migrationsDirectory, REQUIRED_MIGRATION } from '../../../core/db/migrations';
import { runInit, startInit, summaryOf, type InitRun } from '../../support/init/spawn-init';
import { freePort } from '../../support/ports.mjs';
import { slowMigrationsDir, startProxy, viaPort } from '../../support/init/database';
import { tempDir } from '../../support/temp.mjs';

jest.setTimeout(180_000);

const realMigrations = migrationFiles(migrationsDirectory());

function env(url: string, extra: Record<string, string> = {}) {
  return { DATABASE_URL: url, MODELS_FILE: `${tempDir('models')}/models.json`, ...extra };
}

async function recorded(db: TestDatabase): Promise<{ name: string; n: string }[]> {
  const rows = await db
    .db('knex_migrations')
    .select('name')
    .count({ n: '*' })
    .groupBy('name')
    .orderBy('name');
  return rows as unknown as { name: string; n: string }[];
}

async function knexLockRows(db: TestDatabase): Promise<{ is_locked: number }[]> {
  return db.db('knex_migrations_lock').select('is_locked');
}

const output = (run: InitRun) => run.stdout + run.stderr;

/**
 * Runs `work` while another session (as another init would) holds the migrations advisory lock; `release` lets it go
 * early. The session ends afterwards, whatever happened.
 */
async function withMigrationsLockHeld(
  db: TestDatabase,
  work: (release: () => Promise<void>) => Promise<void>,
): Promise<void> {
  const holder = new pg.Client({ connectionString: db.url });
  await holder.connect();
  try {
    await holder.query('SELECT pg_advisory_lock($1::bigint)', [LOCK_KEYS.migrations]);
    await work(async () => {
      await holder.query('SELECT pg_advisory_unlock($1::bigint)', [LOCK_KEYS.migrations]);
    });
  } finally {
    await holder.end();
  }
}

/** `count` migrate runs started together, resolved once every one of them logs that it waits for the lock. */
async function startWaiters(url: string, count: number, extra: Record<string, string> = {}) {
  const waiters = Array.from({ length: count }, () => startInit(['migrate'], env(url, extra)));
  await Promise.all(
    waiters.map((w) => w.waitForLine((l) => l.msg === 'another modelgate-init holds the lock, waiting')),
  );
  return waiters;
}

describe('modelgate-init migrate (real PostgreSQL, real processes)', () => {
  const databases: TestDatabase[] = [];
  const database = async (label: string) => {
    const db = await createTestDatabase(label);
    databases.push(db);
    return db;
  };
  afterAll(async () => {
    for (const db of databases) await db.drop();
  });

  it('16 processes started together on an empty database: all exit 0, each migration recorded once, no MigrationLocked', async () => {
    const db = await database('init_concurrent');
    const runs = await Promise.all(Array.from({ length: 16 }, () => runInit(['migrate'], env(db.url))));
    for (const run of runs) {
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      expect(output(run)).not.toMatch(/MigrationLocked|already locked/i);
    }
    expect(await recorded(db)).toEqual(realMigrations.map((name) => ({ name, n: '1' })));
    const applied = runs.flatMap((run) => summaryOf(run).migrations.applied as string[]);
    expect(applied.sort()).toEqual(realMigrations);
    expect(await knexLockRows(db)).toEqual([{ is_locked: 0 }]);
    // the transaction: false migration (CREATE INDEX CONCURRENTLY) ran and left a valid index
    const index = await db.db.raw(
      "SELECT indisvalid FROM pg_index JOIN pg_class ON pg_class.oid = indexrelid WHERE relname = 'api_keys_user_created_idx'",
    );
    expect(index.rows).toEqual([{ indisvalid: true }]);
  });

  it('logs each applied migration with its duration and writes the report', async () => {
    const db = await database('init_durations');
    const run = await runInit(['migrate'], env(db.url));
    expect(run.code).toBe(0);
    const applied = run.lines.filter((l) => l.msg === 'migration applied');
    expect(applied.map((l) => l.migration)).toEqual(realMigrations);
    for (const line of applied) expect(line.durationMs).toEqual(expect.any(Number));
    expect(summaryOf(run)).toMatchObject({
      command: 'migrate',
      exitCode: 0,
      error: null,
      migrations: { applied: realMigrations, pendingBefore: realMigrations.length },
      durations: { waitDb: expect.any(Number), migrate: expect.any(Number), total: expect.any(Number) },
    });
  });

  it('fast path: nothing pending, done without taking a lock', async () => {
    const db = await database('init_fastpath');
    await db.migrateLatest();
    const run = await runInit(['migrate'], env(db.url));
    expect(run.code).toBe(0);
    expect(run.lines.map((l) => l.msg)).toContain('schema is current, no migration pending');
    expect(run.lines.map((l) => l.msg)).not.toContain('advisory lock acquired');
    expect(summaryOf(run).migrations).toEqual({ applied: [], pendingBefore: 0 });
  });

  it("SIGKILL mid-migration, then another run: it finishes, the schema is complete, knex's lock is not left set", async () => {
    const db = await database('init_sigkill');
    const dir = slowMigrationsDir();
    const slow = '99991231235959_test_sleep.js';
    const first = startInit(
      ['migrate', '--migrations-dir', dir],
      env(db.url, { MODELGATE_TEST_SLEEP_SECONDS: '3' }),
    );
    await first.waitForLine((l) => l.msg === 'migration started' && l.migration === slow);
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    // the killed run left knex's own lock set: without clearing it, the next run would fail with MigrationLocked
    expect(await knexLockRows(db)).toEqual([{ is_locked: 1 }]);

    const second = await runInit(
      ['migrate', '--migrations-dir', dir],
      env(db.url, { MODELGATE_TEST_SLEEP_SECONDS: '1' }),
    );
    expect({ code: second.code, stderr: second.stderr }).toEqual({ code: 0, stderr: '' });
    expect(second.lines.map((l) => l.msg)).toContain(
      'cleared a stale knex migration lock (left by a killed or crashed run)',
    );
    expect(summaryOf(second).migrations.applied).toEqual([slow]);
    expect((await recorded(db)).map((r) => r.name)).toEqual([...realMigrations, slow]);
    expect(await knexLockRows(db)).toEqual([{ is_locked: 0 }]);
    expect(await db.db.schema.hasTable('test_sleep_marker')).toBe(true);
  });

  it('repairs duplicated knex lock rows (which make knex fail forever) while holding the advisory lock', async () => {
    const db = await database('init_duplock');
    await db.db.migrate.up({ directory: migrationsDirectory(), loadExtensions: ['.js'] });
    await db.db('knex_migrations_lock').insert([{ is_locked: 0 }, { is_locked: 1 }]);
    const run = await runInit(['migrate'], env(db.url));
    expect(run.code).toBe(0);
    expect(await knexLockRows(db)).toEqual([{ is_locked: 0 }]);
    expect((await recorded(db)).map((r) => r.name)).toEqual(realMigrations);
  });

  it('processes waiting for the migrations lock hold no snapshot, so the holder can CREATE INDEX CONCURRENTLY meanwhile', async () => {
    const db = await database('init_waiters');
    await withMigrationsLockHeld(db, async (release) => {
      const waiters = await startWaiters(db.url, 4, { MIGRATION_LOCK_TIMEOUT: '60s' });
      // The holder migrates as another init would, concurrent index included: CREATE INDEX CONCURRENTLY waits for
      // every transaction with an older snapshot, so a waiter blocked inside a statement would stall it until the
      // waiter's MIGRATION_LOCK_TIMEOUT (exit 3). Waiters poll pg_try_advisory_lock instead.
      await db.migrateLatest();
      await release();
      const runs = await Promise.all(waiters.map((w) => w.done));
      for (const run of runs) {
        expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
        expect(run.lines.map((l) => l.msg)).toContain(
          'another modelgate-init applied the pending migrations',
        );
        expect(summaryOf(run).migrations.applied).toEqual([]);
      }
      expect(await recorded(db)).toEqual(realMigrations.map((name) => ({ name, n: '1' })));
    });
  });

  it('when the process they waited for applied nothing (it crashed), the waiters migrate, one at a time', async () => {
    const db = await database('init_waiters_failed');
    await withMigrationsLockHeld(db, async (release) => {
      const waiters = await startWaiters(db.url, 4);
      // The holder gives up without migrating (a crashed init).
      await release();
      const runs = await Promise.all(waiters.map((w) => w.done));
      for (const run of runs) expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      expect(runs.flatMap((run) => summaryOf(run).migrations.applied as string[]).sort()).toEqual(
        realMigrations,
      );
      expect(await recorded(db)).toEqual(realMigrations.map((name) => ({ name, n: '1' })));
    });
  });

  it('exits 3 when the migrations lock is not acquired within MIGRATION_LOCK_TIMEOUT', async () => {
    const db = await database('init_locktimeout');
    await withMigrationsLockHeld(db, async () => {
      const run = await runInit(['migrate'], env(db.url, { MIGRATION_LOCK_TIMEOUT: '1s' }));
      expect(run.code).toBe(3);
      expect(summaryOf(run)).toMatchObject({
        exitCode: 3,
        error: expect.stringMatching(
          /migrations lock was not acquired within MIGRATION_LOCK_TIMEOUT \(1000 ms\)/,
        ),
      });
      expect(await db.db.schema.hasTable('users')).toBe(false);
    });
  });

  it('waits for a database that appears later, logging each attempt with the host and never the password', async () => {
    const db = await database('init_appears');
    const port = await freePort();
    const target = new URL(db.url);
    const url = viaPort(db.url, port);
    const password = decodeURIComponent(target.password);
    const child = startInit(['migrate'], env(url, { DB_WAIT_TIMEOUT: '30s' }));
    await child.waitForLine((l) => l.msg === 'database not reachable yet, retrying');
    const proxy = await startProxy(port, { host: target.hostname, port: Number(target.port) });
    try {
      const run = await child.done;
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      const attempts = run.lines.filter((l) => l.msg === 'database not reachable yet, retrying');
      expect(attempts[0]).toMatchObject({
        database: `127.0.0.1:${port}${target.pathname}`,
        reason: expect.stringMatching(/ECONNREFUSED/),
      });
      if (password) expect(output(run)).not.toContain(password);
      expect(summaryOf(run).migrations.applied).toContain(REQUIRED_MIGRATION);
    } finally {
      await proxy.close();
    }
  });

  it('exits 1 after DB_WAIT_TIMEOUT when the database never appears', async () => {
    const port = await freePort();
    const run = await runInit(
      ['migrate'],
      env(`postgres://modelgate:NeverLogThis42@127.0.0.1:${port}/x`, { DB_WAIT_TIMEOUT: '2s' }),
    );
    expect(run.code).toBe(1);
    expect(summaryOf(run).error).toMatch(
      new RegExp(
        `the database at 127\\.0\\.0\\.1:${port}/x did not accept connections within DB_WAIT_TIMEOUT \\(2000 ms; last error: ECONNREFUSED`,
      ),
    );
    expect(run.lines.filter((l) => l.msg === 'database not reachable yet, retrying').length).toBeGreaterThan(
      1,
    );
    expect(output(run)).not.toContain('NeverLogThis42');
  });

  it('exits 2 on a configuration error or an unknown command', async () => {
    const missing = await runInit(['migrate'], {});
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('DATABASE_URL is required but not set');
    const unknown = await runInit(['migrat'], {});
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "migrat"');
  });
});

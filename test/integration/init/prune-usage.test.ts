import { randomUUID } from 'node:crypto';
import { recordId } from '../../../app/api/usage/record-id';
import { KnexUsageStore } from '../../../app/api/usage/usage-store-knex';
import type { LedgerEntry } from '../../../app/api/usage/usage-store';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { runInit } from '../../support/init/spawn-init';

jest.setTimeout(120_000);

const DAY = 86_400_000;

function entry(at: Date): LedgerEntry {
  return {
    id: recordId(at.getTime()),
    requestId: randomUUID(),
    keyId: randomUUID(),
    userId: randomUUID(),
    kind: 'chat',
    model: 'm',
    upstream: 'u',
    upstreamModel: 'u-m',
    status: 200,
    promptTokens: 1,
    completionTokens: 1,
    estimated: false,
    durationMs: 1,
    ttftMs: null,
    at,
  };
}

describe('modelgate-init prune-usage (the retention job; real PostgreSQL, the built binary)', () => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await createTestDatabase('prune_usage');
    await testDb.migrateLatest();
  });
  afterAll(async () => {
    await testDb?.drop();
  });

  it('deletes only the records older than USAGE_RETENTION, in batches of USAGE_PRUNE_BATCH', async () => {
    const now = Date.now();
    const old = Array.from({ length: 1_050 }, (_, i) => entry(new Date(now - 31 * DAY - i * 1_000)));
    // Just inside the retention (by an hour) and recent: kept.
    const kept = [
      entry(new Date(now - 30 * DAY + 3_600_000)),
      entry(new Date(now - DAY)),
      entry(new Date(now)),
    ];
    await new KnexUsageStore(testDb.db).insert([...old, ...kept]);

    const run = await runInit(['prune-usage'], {
      DATABASE_URL: testDb.url,
      USAGE_RETENTION: '30d',
      USAGE_PRUNE_BATCH: '100',
    });
    expect(run.code).toBe(0);
    const done = run.lines.find((l) => typeof l.deleted === 'number');
    expect(done).toMatchObject({ deleted: 1_050, batches: 11, retention: '30d' });
    const left = (await testDb.db('usage_records').select('id').orderBy('id')).map((r) => r.id);
    expect(left).toEqual(kept.map((e) => e.id).sort());

    const again = await runInit(['prune-usage'], { DATABASE_URL: testDb.url, USAGE_RETENTION: '30d' });
    expect(again.code).toBe(0);
    expect(again.lines.find((l) => typeof l.deleted === 'number')).toMatchObject({ deleted: 0, batches: 1 });
  });

  it('names the missing migration on a database without the ledger (exit 1)', async () => {
    const bare = await createTestDatabase('prune_bare');
    try {
      const run = await runInit(['prune-usage'], { DATABASE_URL: bare.url });
      expect(run.code).toBe(1);
      expect(run.stdout).toContain('run modelgate-init migrate');
    } finally {
      await bare.drop();
    }
  });

  it('refuses a retention of 0 with the variable named (exit 2)', async () => {
    const run = await runInit(['prune-usage'], { DATABASE_URL: testDb.url, USAGE_RETENTION: '0s' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('USAGE_RETENTION must be longer than 0');
  });
});

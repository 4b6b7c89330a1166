import { migratorConfig, schemaState, REQUIRED_MIGRATION, MIGRATIONS_TABLE } from '../../core/db/migrations';
import { createTestDatabase, type TestDatabase } from '../support/database';

describe('schemaState', () => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await createTestDatabase('schema_state');
  });
  afterAll(async () => {
    await testDb?.drop();
  });

  it('is incompatible on an empty database and says what to run', async () => {
    const state = await schemaState(testDb.db);
    expect(state).toMatchObject({ compatible: false, latestApplied: null });
    if (!state.compatible) expect(state.reason).toMatch(/no migrations applied/);
  });

  it('is incompatible while the required migration is missing', async () => {
    await testDb.db.migrate.up(migratorConfig());
    const state = await schemaState(testDb.db);
    expect(state.compatible).toBe(false);
    if (!state.compatible) expect(state.reason).toContain(`lacks migration ${REQUIRED_MIGRATION}`);
  });

  it('is compatible at latest and when the database is ahead of the code', async () => {
    await testDb.db.migrate.latest(migratorConfig());
    expect(await schemaState(testDb.db)).toMatchObject({ compatible: true, ahead: false });
    await testDb
      .db(MIGRATIONS_TABLE)
      .insert({ name: '29991231000000_from_a_newer_release.js', batch: 99, migration_time: new Date() });
    expect(await schemaState(testDb.db)).toMatchObject({ compatible: true, ahead: true });
  });
});

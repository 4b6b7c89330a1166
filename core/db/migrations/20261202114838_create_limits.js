// @ts-check

/**
 * Per-key limits with per-user defaults, and the counters that hold them across replicas. Additive: new tables
 * only. In `user_limits` and `key_limits` a NULL column means "not set here": a key inherits its user's value,
 * and a value set on neither means no limit (every model, for allowed_models).
 *
 * `limit_windows` holds the per-minute windows (requests, tokens). It is UNLOGGED: it is written on the hot path
 * and a crash of the database may only forget the current minute, so it skips the WAL (and its fsync).
 * `limit_budgets` holds the calendar-month token budgets, which must survive a crash, so it is logged.
 * Both have the same columns: `taken` permits handed out in the window that ends at `window_end`, `lim` the limit
 * they were taken against, `last_grant` what the last take got (RETURNING cannot see the old row).
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  /** @param {import('knex').Knex.CreateTableBuilder} table @param {string} name */
  const policyColumns = (table, name) => {
    table.specificType('allowed_models', 'text[]').nullable();
    table.integer('requests_per_minute').nullable();
    table.bigInteger('tokens_per_minute').nullable();
    table.bigInteger('monthly_token_budget').nullable();
    table.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.check(
      '(requests_per_minute IS NULL OR requests_per_minute >= 0) AND (tokens_per_minute IS NULL OR tokens_per_minute >= 0) AND (monthly_token_budget IS NULL OR monthly_token_budget >= 0)',
      [],
      `${name}_non_negative`,
    );
  };
  await knex.schema.createTable('user_limits', (table) => {
    table.uuid('user_id').primary().references('id').inTable('users').onDelete('CASCADE');
    policyColumns(table, 'user_limits');
  });
  await knex.schema.createTable('key_limits', (table) => {
    table.uuid('key_id').primary().references('id').inTable('api_keys').onDelete('CASCADE');
    policyColumns(table, 'key_limits');
  });
  for (const [name, persistence, dimensions] of [
    ['limit_windows', 'UNLOGGED', "'requests', 'tokens'"],
    ['limit_budgets', '', "'budget'"],
  ]) {
    await knex.raw(`
      CREATE ${persistence} TABLE ${name} (
        key_id uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
        dimension text NOT NULL CHECK (dimension IN (${dimensions})),
        window_start timestamptz NOT NULL,
        window_end timestamptz NOT NULL,
        taken bigint NOT NULL CHECK (taken >= 0),
        last_grant bigint NOT NULL,
        lim bigint NOT NULL,
        PRIMARY KEY (key_id, dimension)
      )`);
  }
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('limit_budgets');
  await knex.schema.dropTable('limit_windows');
  await knex.schema.dropTable('key_limits');
  await knex.schema.dropTable('user_limits');
};

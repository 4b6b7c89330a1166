// @ts-check

/**
 * The usage ledger: one row per finished chat completion or embedding, failed ones included. Append-only history,
 * so no foreign keys: a batch is never refused because a key or user was deleted meanwhile, and rows outlive them.
 * `id` is made by the gateway (time-ordered), so a batch written twice (its commit acknowledged too late) inserts
 * nothing the second time. Indexes: per user and per key over time (GET /usage, /admin/usage filters), and by
 * time alone (admin ranges and the retention clean-up).
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('usage_records', (table) => {
    table.uuid('id').primary();
    table.text('request_id').notNullable();
    table.uuid('key_id').notNullable();
    table.uuid('user_id').notNullable();
    table.text('kind').notNullable();
    table.text('model').notNullable();
    table.text('upstream').nullable();
    table.text('upstream_model').nullable();
    table.smallint('status').notNullable();
    table.integer('prompt_tokens').notNullable();
    table.integer('completion_tokens').notNullable();
    table.boolean('estimated').notNullable();
    table.integer('duration_ms').notNullable();
    table.integer('ttft_ms').nullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.index(['user_id', 'created_at'], 'usage_records_user_created_idx');
    table.index(['key_id', 'created_at'], 'usage_records_key_created_idx');
    table.index(['created_at'], 'usage_records_created_idx');
  });
  await knex.raw(
    "ALTER TABLE usage_records ADD CONSTRAINT usage_records_kind_check CHECK (kind IN ('chat', 'embedding'))",
  );
  await knex.raw(
    'ALTER TABLE usage_records ADD CONSTRAINT usage_records_tokens_check CHECK (prompt_tokens >= 0 AND completion_tokens >= 0)',
  );
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('usage_records');
};

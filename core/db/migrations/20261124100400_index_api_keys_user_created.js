// @ts-check

/**
 * Key listings are per user, newest first. Built CONCURRENTLY so a live api_keys table is never locked against
 * writes; that cannot run inside a transaction, hence `transaction: false`.
 */
exports.config = { transaction: false };

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  await knex.raw(
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS api_keys_user_created_idx ON api_keys (user_id, created_at DESC)',
  );
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.raw('DROP INDEX CONCURRENTLY IF EXISTS api_keys_user_created_idx');
};

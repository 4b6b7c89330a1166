// @ts-check

/**
 * Messages of a chat in a gap-free `sequence`, unique per chat.
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('messages', (table) => {
    table.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    table.uuid('chat_id').notNullable().references('id').inTable('chats').onDelete('CASCADE');
    table.text('role').notNullable();
    table.text('content').notNullable();
    table.integer('sequence').notNullable();
    table.integer('tokens').nullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.unique(['chat_id', 'sequence'], { indexName: 'messages_chat_sequence_key' });
  });
  await knex.raw(
    "ALTER TABLE messages ADD CONSTRAINT messages_role_check CHECK (role IN ('system', 'user', 'assistant', 'tool'))",
  );
  await knex.raw('ALTER TABLE messages ADD CONSTRAINT messages_sequence_check CHECK (sequence >= 1)');
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('messages');
};

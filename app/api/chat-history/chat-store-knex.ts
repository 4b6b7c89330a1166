import type { Knex } from 'knex';
import type { Page, PageResult } from '../schemas';
import { recordOf } from '../row-record';
import type { ChatPatch, ChatRecord, ChatStore, MessageRecord, NewChat, NewMessage } from './chat-store';

interface ChatRow {
  id: string;
  user_id: string;
  title: string;
  model: string | null;
  created_at: Date;
  updated_at: Date;
}

interface MessageRow {
  id: string;
  chat_id: string;
  role: MessageRecord['role'];
  content: string;
  sequence: number;
  tokens: number | null;
  created_at: Date;
}

const CHAT_COLUMNS = ['id', 'user_id', 'title', 'model', 'created_at', 'updated_at'];
const MESSAGE_COLUMNS = ['id', 'chat_id', 'role', 'content', 'sequence', 'tokens', 'created_at'];

const toChat = (row: ChatRow): ChatRecord => recordOf(row);
const toMessage = (row: MessageRow): MessageRecord => recordOf(row);

/**
 * Inserts after the chat's current last sequence in one statement. Only safe while the caller holds the chat's row
 * lock: the statement's snapshot is then taken after every earlier append to this chat has committed.
 */
async function insertMessages(
  trx: Knex.Transaction,
  chatId: string,
  messages: readonly NewMessage[],
): Promise<MessageRecord[]> {
  if (messages.length === 0) return [];
  const result = await trx.raw(
    `INSERT INTO messages (chat_id, role, content, tokens, sequence)
     SELECT ?::uuid, m.role, m.content, m.tokens, last.seq + m.n
       FROM unnest(?::text[], ?::text[], ?::int[]) WITH ORDINALITY AS m(role, content, tokens, n),
            (SELECT COALESCE(MAX(sequence), 0) AS seq FROM messages WHERE chat_id = ?::uuid) AS last
      ORDER BY m.n
     RETURNING ${MESSAGE_COLUMNS.join(', ')}`,
    [
      chatId,
      messages.map((m) => m.role),
      messages.map((m) => m.content),
      messages.map((m) => m.tokens) as number[],
      chatId,
    ],
  );
  return (result.rows as MessageRow[]).map(toMessage).sort((a, b) => a.sequence - b.sequence);
}

export class KnexChatStore implements ChatStore {
  constructor(private readonly db: Knex) {}

  createChat(userId: string, chat: NewChat, messages: readonly NewMessage[]): Promise<ChatRecord> {
    return this.db.transaction(async (trx) => {
      const [row] = await trx('chats')
        .insert({ user_id: userId, title: chat.title, model: chat.model })
        .returning(CHAT_COLUMNS);
      const created = toChat(row as ChatRow);
      await insertMessages(trx, created.id, messages);
      return created;
    });
  }

  async listChats(userId: string, page: Page): Promise<PageResult<ChatRecord>> {
    const [rows, count] = await Promise.all([
      this.db('chats')
        .select(CHAT_COLUMNS)
        .where('user_id', userId)
        .orderBy([
          { column: 'updated_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .offset(page.skip)
        .limit(page.limit),
      this.db('chats').where('user_id', userId).count<{ count: string }[]>({ count: '*' }),
    ]);
    return { items: (rows as ChatRow[]).map(toChat), total: Number(count[0]?.count ?? 0) };
  }

  async getChat(userId: string, chatId: string): Promise<ChatRecord | undefined> {
    const row = await this.db('chats')
      .where({ id: chatId, user_id: userId })
      .first<ChatRow | undefined>(CHAT_COLUMNS);
    return row && toChat(row);
  }

  async updateChat(userId: string, chatId: string, patch: ChatPatch): Promise<ChatRecord | undefined> {
    const changes: Record<string, unknown> = { updated_at: this.db.fn.now() };
    if (patch.title !== undefined) changes.title = patch.title;
    if (patch.model !== undefined) changes.model = patch.model;
    const [row] = await this.db('chats')
      .where({ id: chatId, user_id: userId })
      .update(changes)
      .returning(CHAT_COLUMNS);
    return row && toChat(row as ChatRow);
  }

  async deleteChat(userId: string, chatId: string): Promise<boolean> {
    const deleted = await this.db('chats').where({ id: chatId, user_id: userId }).delete();
    return deleted > 0;
  }

  appendMessages(
    userId: string,
    chatId: string,
    messages: readonly NewMessage[],
  ): Promise<MessageRecord[] | undefined> {
    return this.db.transaction(async (trx) => {
      // The UPDATE takes the chat's row lock: appends to one chat run one after the other, so the next
      // statement's MAX(sequence) + 1 cannot be taken twice.
      const [chat] = await trx('chats')
        .where({ id: chatId, user_id: userId })
        .update({ updated_at: trx.fn.now() })
        .returning('id');
      if (!chat) return undefined;
      return insertMessages(trx, chatId, messages);
    });
  }

  async listMessages(
    userId: string,
    chatId: string,
    page: Page,
  ): Promise<PageResult<MessageRecord> | undefined> {
    const chat = await this.db('chats as c')
      .where({ 'c.id': chatId, 'c.user_id': userId })
      .first<{ total: string } | undefined>(
        this.db.raw('(SELECT COUNT(*) FROM messages AS m WHERE m.chat_id = c.id) AS total'),
      );
    if (!chat) return undefined;
    const rows = await this.db('messages')
      .select(MESSAGE_COLUMNS)
      .where('chat_id', chatId)
      .orderBy('sequence', 'asc')
      .offset(page.skip)
      .limit(page.limit);
    return { items: (rows as MessageRow[]).map(toMessage), total: Number(chat.total) };
  }

  async deleteMessage(userId: string, messageId: string): Promise<boolean> {
    const result = await this.db.raw(
      `DELETE FROM messages AS m USING chats AS c
        WHERE m.id = ? AND m.chat_id = c.id AND c.user_id = ?`,
      [messageId, userId],
    );
    return (result as { rowCount: number }).rowCount > 0;
  }
}

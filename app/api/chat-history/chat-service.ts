import { NotFoundError } from '../../http/errors';
import { isUuid, type Page, type PageResult } from '../schemas';
import type { ChatPatch, ChatRecord, ChatStore, MessageRecord, NewChat, NewMessage } from './chat-store';

function chatNotFound(id: string): NotFoundError {
  return new NotFoundError(`No chat ${id} among your chats.`, { code: 'chat_not_found' });
}

function messageNotFound(id: string): NotFoundError {
  return new NotFoundError(`No message ${id} in your chats.`, { code: 'message_not_found' });
}

/** Chat storage rules: everything is scoped to the caller; a malformed id is just an id that does not exist. */
export class ChatService {
  constructor(private readonly store: ChatStore) {}

  createChat(userId: string, chat: NewChat, messages: readonly NewMessage[]): Promise<ChatRecord> {
    return this.store.createChat(userId, chat, messages);
  }

  listChats(userId: string, page: Page): Promise<PageResult<ChatRecord>> {
    return this.store.listChats(userId, page);
  }

  async getChat(userId: string, chatId: string): Promise<ChatRecord> {
    const chat = isUuid(chatId) ? await this.store.getChat(userId, chatId) : undefined;
    if (!chat) throw chatNotFound(chatId);
    return chat;
  }

  async updateChat(userId: string, chatId: string, patch: ChatPatch): Promise<ChatRecord> {
    const chat = isUuid(chatId) ? await this.store.updateChat(userId, chatId, patch) : undefined;
    if (!chat) throw chatNotFound(chatId);
    return chat;
  }

  async deleteChat(userId: string, chatId: string): Promise<void> {
    if (!isUuid(chatId) || !(await this.store.deleteChat(userId, chatId))) throw chatNotFound(chatId);
  }

  async appendMessage(userId: string, chatId: string, message: NewMessage): Promise<MessageRecord> {
    const inserted = isUuid(chatId) ? await this.store.appendMessages(userId, chatId, [message]) : undefined;
    if (!inserted?.[0]) throw chatNotFound(chatId);
    return inserted[0];
  }

  async listMessages(userId: string, chatId: string, page: Page): Promise<PageResult<MessageRecord>> {
    const result = isUuid(chatId) ? await this.store.listMessages(userId, chatId, page) : undefined;
    if (!result) throw chatNotFound(chatId);
    return result;
  }

  async deleteMessage(userId: string, messageId: string): Promise<void> {
    if (!isUuid(messageId) || !(await this.store.deleteMessage(userId, messageId)))
      throw messageNotFound(messageId);
  }
}

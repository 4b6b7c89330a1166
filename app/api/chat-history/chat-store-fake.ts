import { randomUUID } from 'node:crypto';
import type { Page, PageResult } from '../schemas';
import type { ChatPatch, ChatRecord, ChatStore, MessageRecord, NewChat, NewMessage } from './chat-store';

/** In-memory ChatStore for unit tests. */
export class FakeChatStore implements ChatStore {
  readonly chats = new Map<string, ChatRecord>();
  readonly messages = new Map<string, MessageRecord>();

  async createChat(userId: string, chat: NewChat, messages: readonly NewMessage[]): Promise<ChatRecord> {
    const now = new Date();
    const record = {
      id: randomUUID(),
      userId,
      title: chat.title,
      model: chat.model,
      createdAt: now,
      updatedAt: now,
    };
    this.chats.set(record.id, record);
    this.insert(record.id, messages);
    return { ...record };
  }

  async listChats(userId: string, page: Page): Promise<PageResult<ChatRecord>> {
    const all = [...this.chats.values()]
      .filter((c) => c.userId === userId)
      .sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime());
    return { items: all.slice(page.skip, page.skip + page.limit), total: all.length };
  }

  async getChat(userId: string, chatId: string): Promise<ChatRecord | undefined> {
    const chat = this.chats.get(chatId);
    return chat && chat.userId === userId ? { ...chat } : undefined;
  }

  async updateChat(userId: string, chatId: string, patch: ChatPatch): Promise<ChatRecord | undefined> {
    const chat = this.chats.get(chatId);
    if (!chat || chat.userId !== userId) return undefined;
    if (patch.title !== undefined) chat.title = patch.title;
    if (patch.model !== undefined) chat.model = patch.model;
    chat.updatedAt = new Date();
    return { ...chat };
  }

  async deleteChat(userId: string, chatId: string): Promise<boolean> {
    const chat = this.chats.get(chatId);
    if (!chat || chat.userId !== userId) return false;
    this.chats.delete(chatId);
    for (const [id, m] of this.messages) if (m.chatId === chatId) this.messages.delete(id);
    return true;
  }

  async appendMessages(
    userId: string,
    chatId: string,
    messages: readonly NewMessage[],
  ): Promise<MessageRecord[] | undefined> {
    const chat = this.chats.get(chatId);
    if (!chat || chat.userId !== userId) return undefined;
    chat.updatedAt = new Date();
    return this.insert(chatId, messages);
  }

  async listMessages(
    userId: string,
    chatId: string,
    page: Page,
  ): Promise<PageResult<MessageRecord> | undefined> {
    if (!(await this.getChat(userId, chatId))) return undefined;
    const all = this.ofChat(chatId);
    return { items: all.slice(page.skip, page.skip + page.limit), total: all.length };
  }

  async deleteMessage(userId: string, messageId: string): Promise<boolean> {
    const message = this.messages.get(messageId);
    if (!message || this.chats.get(message.chatId)?.userId !== userId) return false;
    return this.messages.delete(messageId);
  }

  private ofChat(chatId: string): MessageRecord[] {
    return [...this.messages.values()]
      .filter((m) => m.chatId === chatId)
      .sort((a, b) => a.sequence - b.sequence);
  }

  private insert(chatId: string, messages: readonly NewMessage[]): MessageRecord[] {
    const last = this.ofChat(chatId).at(-1)?.sequence ?? 0;
    return messages.map((m, i) => {
      const record = { id: randomUUID(), chatId, ...m, sequence: last + 1 + i, createdAt: new Date() };
      this.messages.set(record.id, record);
      return record;
    });
  }
}

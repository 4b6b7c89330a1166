import type { Page, PageResult } from '../schemas';

export const messageRoles = ['system', 'user', 'assistant', 'tool'] as const;
export type MessageRole = (typeof messageRoles)[number];

export interface ChatRecord {
  id: string;
  userId: string;
  title: string;
  model: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface MessageRecord {
  id: string;
  chatId: string;
  role: MessageRole;
  content: string;
  sequence: number;
  tokens: number | null;
  createdAt: Date;
}

export interface NewChat {
  title: string;
  model: string | null;
}

export interface NewMessage {
  role: MessageRole;
  content: string;
  tokens: number | null;
}

export interface ChatPatch {
  title?: string;
  model?: string | null;
}

/**
 * Chats and messages, always scoped to a user: a chat or message of someone else behaves exactly like one that
 * does not exist (undefined / false).
 */
export interface ChatStore {
  /** The chat and its first messages in one transaction. */
  createChat(userId: string, chat: NewChat, messages: readonly NewMessage[]): Promise<ChatRecord>;
  listChats(userId: string, page: Page): Promise<PageResult<ChatRecord>>;
  getChat(userId: string, chatId: string): Promise<ChatRecord | undefined>;
  updateChat(userId: string, chatId: string, patch: ChatPatch): Promise<ChatRecord | undefined>;
  deleteChat(userId: string, chatId: string): Promise<boolean>;
  /** Appends after the chat's last message; sequences stay gap-free under concurrent appends. */
  appendMessages(
    userId: string,
    chatId: string,
    messages: readonly NewMessage[],
  ): Promise<MessageRecord[] | undefined>;
  listMessages(userId: string, chatId: string, page: Page): Promise<PageResult<MessageRecord> | undefined>;
  deleteMessage(userId: string, messageId: string): Promise<boolean>;
}

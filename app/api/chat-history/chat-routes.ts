import type { RequestHandler, Router } from 'express';
import * as z from 'zod';
import { lazily, mount, operation } from '../operations';
import { principal } from '../principal';
import { idParam, iso, listBody, pageOf, pageQuery, safeText, timestamp } from '../schemas';
import { messageRoles, type ChatRecord, type MessageRecord } from './chat-store';
import type { ChatService } from './chat-service';

export const MAX_TITLE = 500;
export const MAX_INITIAL_MESSAGES = 100;
/** PostgreSQL's integer. */
const MAX_TOKENS = 2_147_483_647;

/** What the chat routes answer; the presenters below are typed by them. */
export const chatSchemas = lazily(() => {
  const chat = z.strictObject({
    id: z.uuid(),
    object: z.literal('chat'),
    title: z.string(),
    model: z.string().nullable(),
    created_at: timestamp(),
    updated_at: timestamp(),
  });
  const message = z.strictObject({
    id: z.uuid(),
    object: z.literal('chat.message'),
    chat_id: z.uuid(),
    role: z.enum(messageRoles),
    content: z.string(),
    sequence: z.int().min(1),
    tokens: z.int().min(0).max(MAX_TOKENS).nullable(),
    created_at: timestamp(),
  });
  return { chat, message, chatList: pageOf(chat), messageList: pageOf(message) };
});
type ChatSchemas = ReturnType<typeof chatSchemas>;
export type ChatJson = z.output<ChatSchemas['chat']>;
export type MessageJson = z.output<ChatSchemas['message']>;

export const createMessageBody = z.strictObject({
  role: z.enum(messageRoles),
  content: safeText(10_000_000),
  tokens: z.int().min(0).max(MAX_TOKENS).nullable().optional(),
});

export const createChatBody = z.strictObject({
  title: safeText(MAX_TITLE).optional(),
  model: safeText(512).nullable().optional(),
  messages: z.array(createMessageBody).max(MAX_INITIAL_MESSAGES).optional(),
});

export const updateChatBody = z.strictObject({
  title: safeText(MAX_TITLE).optional(),
  model: safeText(512).nullable().optional(),
});

export function chatJson(chat: ChatRecord): ChatJson {
  return {
    id: chat.id,
    object: 'chat',
    title: chat.title,
    model: chat.model,
    created_at: iso(chat.createdAt),
    updated_at: iso(chat.updatedAt),
  };
}

export function messageJson(message: MessageRecord): MessageJson {
  return {
    id: message.id,
    object: 'chat.message',
    chat_id: message.chatId,
    role: message.role,
    content: message.content,
    sequence: message.sequence,
    tokens: message.tokens,
    created_at: iso(message.createdAt),
  };
}

const withTokens = (m: z.output<typeof createMessageBody>) => ({
  role: m.role,
  content: m.content,
  tokens: m.tokens ?? null,
});

const chatId = idParam('Chat id.');

export const chatOperations = {
  listChats: operation({
    operationId: 'listChats',
    method: 'get',
    path: '/chat-history/chats',
    summary: "The caller's chats, most recently updated first.",
    security: 'apiKey',
    query: pageQuery,
    responses: { 200: { description: 'Chats.', schema: () => chatSchemas().chatList } },
    errors: [401, 503],
  }),
  createChat: operation({
    operationId: 'createChat',
    method: 'post',
    path: '/chat-history/chats',
    summary: 'A new chat, optionally with its first messages (all or nothing). The body may be left out.',
    security: 'apiKey',
    body: { schema: createChatBody, required: false },
    responses: { 201: { description: 'Created.', schema: () => chatSchemas().chat } },
    errors: [401, 503],
  }),
  getChat: operation({
    operationId: 'getChat',
    method: 'get',
    path: '/chat-history/chats/:id',
    summary: 'One of the caller’s chats.',
    security: 'apiKey',
    params: chatId,
    responses: { 200: { description: 'The chat.', schema: () => chatSchemas().chat } },
    errors: [401, 404, 503],
  }),
  updateChat: operation({
    operationId: 'updateChat',
    method: 'put',
    path: '/chat-history/chats/:id',
    summary: 'Changes the title or model of a chat.',
    security: 'apiKey',
    params: chatId,
    body: { schema: updateChatBody, required: true },
    responses: { 200: { description: 'The updated chat.', schema: () => chatSchemas().chat } },
    errors: [401, 404, 503],
  }),
  deleteChat: operation({
    operationId: 'deleteChat',
    method: 'delete',
    path: '/chat-history/chats/:id',
    summary: 'Deletes the chat and its messages.',
    security: 'apiKey',
    params: chatId,
    responses: { 204: { description: 'Deleted.' } },
    errors: [401, 404, 503],
  }),
  listMessages: operation({
    operationId: 'listMessages',
    method: 'get',
    path: '/chat-history/chats/:id/messages',
    summary: 'Messages in sequence order.',
    security: 'apiKey',
    params: chatId,
    query: pageQuery,
    responses: { 200: { description: 'Messages.', schema: () => chatSchemas().messageList } },
    errors: [401, 404, 503],
  }),
  appendMessage: operation({
    operationId: 'appendMessage',
    method: 'post',
    path: '/chat-history/chats/:id/messages',
    summary: "Appends a message; its sequence is the chat's last plus one.",
    security: 'apiKey',
    params: chatId,
    body: { schema: createMessageBody, required: true },
    responses: { 201: { description: 'Appended.', schema: () => chatSchemas().message } },
    errors: [401, 404, 503],
  }),
  deleteMessage: operation({
    operationId: 'deleteMessage',
    method: 'delete',
    path: '/chat-history/messages/:id',
    summary: 'Deletes one message.',
    security: 'apiKey',
    params: idParam('Message id.'),
    responses: { 204: { description: 'Deleted.' } },
    errors: [401, 404, 503],
  }),
};

/** Chat storage routes of DESIGN section 5, all scoped to the key's user. */
export function chatRoutes(router: Router, chats: ChatService, auth: RequestHandler): void {
  const ops = chatOperations;
  const user = (res: Parameters<typeof principal>[0]) => principal(res).userId;

  mount(router, ops.createChat, [auth], async ({ body }, _req, res) => {
    const chat = await chats.createChat(
      user(res),
      { title: body.title ?? '', model: body.model ?? null },
      (body.messages ?? []).map(withTokens),
    );
    res.status(201).json(chatJson(chat));
  });

  mount(router, ops.listChats, [auth], async ({ query }, _req, res) => {
    const result = await chats.listChats(user(res), query);
    res.json(listBody(result.items.map(chatJson), result.total, query));
  });

  mount(router, ops.getChat, [auth], async ({ params }, _req, res) => {
    res.json(chatJson(await chats.getChat(user(res), params.id)));
  });

  mount(router, ops.updateChat, [auth], async ({ params, body }, _req, res) => {
    res.json(chatJson(await chats.updateChat(user(res), params.id, body)));
  });

  mount(router, ops.deleteChat, [auth], async ({ params }, _req, res) => {
    await chats.deleteChat(user(res), params.id);
    res.status(204).end();
  });

  mount(router, ops.appendMessage, [auth], async ({ params, body }, _req, res) => {
    const message = await chats.appendMessage(user(res), params.id, withTokens(body));
    res.status(201).json(messageJson(message));
  });

  mount(router, ops.listMessages, [auth], async ({ params, query }, _req, res) => {
    const result = await chats.listMessages(user(res), params.id, query);
    res.json(listBody(result.items.map(messageJson), result.total, query));
  });

  mount(router, ops.deleteMessage, [auth], async ({ params }, _req, res) => {
    await chats.deleteMessage(user(res), params.id);
    res.status(204).end();
  });
}

import { Router, type RequestHandler } from 'express';
import * as z from 'zod';
import { iso, listBody, pageQuery, safeText } from '../schemas';
import { parseInput } from '../validation';
import { principal } from '../principal';
import { messageRoles, type ChatRecord, type MessageRecord } from './chat-store';
import type { ChatService } from './chat-service';

export function chatJson(chat: ChatRecord) {
  return {
    id: chat.id,
    object: 'chat' as const,
    title: chat.title,
    model: chat.model,
    created_at: iso(chat.createdAt),
    updated_at: iso(chat.updatedAt),
  };
}

export function messageJson(message: MessageRecord) {
  return {
    id: message.id,
    object: 'chat.message' as const,
    chat_id: message.chatId,
    role: message.role,
    content: message.content,
    sequence: message.sequence,
    tokens: message.tokens,
    created_at: iso(message.createdAt),
  };
}

export const MAX_TITLE = 500;
export const MAX_INITIAL_MESSAGES = 100;

const messageBody = z.strictObject({
  role: z.enum(messageRoles),
  content: safeText(10_000_000),
  tokens: z.number().int().min(0).max(2_147_483_647).nullable().optional(),
});

const createChatBody = z.strictObject({
  title: safeText(MAX_TITLE).optional(),
  model: safeText(512).nullable().optional(),
  messages: z.array(messageBody).max(MAX_INITIAL_MESSAGES).optional(),
});

const updateChatBody = z.strictObject({
  title: safeText(MAX_TITLE).optional(),
  model: safeText(512).nullable().optional(),
});

const withTokens = (m: z.output<typeof messageBody>) => ({
  role: m.role,
  content: m.content,
  tokens: m.tokens ?? null,
});

/** Chat storage routes of DESIGN section 5, all scoped to the key's user. */
export function chatRoutes(chats: ChatService, auth: RequestHandler): Router {
  const router = Router();

  router.post('/chat-history/chats', auth, async (req, res) => {
    const body = parseInput(createChatBody, req.body ?? {}, 'body');
    const chat = await chats.createChat(
      principal(res).userId,
      { title: body.title ?? '', model: body.model ?? null },
      (body.messages ?? []).map(withTokens),
    );
    res.status(201).json(chatJson(chat));
  });

  router.get('/chat-history/chats', auth, async (req, res) => {
    const page = parseInput(pageQuery, req.query, 'query');
    const result = await chats.listChats(principal(res).userId, page);
    res.json(listBody(result.items.map(chatJson), result.total, page));
  });

  router.get('/chat-history/chats/:id', auth, async (req, res) => {
    res.json(chatJson(await chats.getChat(principal(res).userId, req.params.id as string)));
  });

  router.put('/chat-history/chats/:id', auth, async (req, res) => {
    const body = parseInput(updateChatBody, req.body, 'body');
    res.json(chatJson(await chats.updateChat(principal(res).userId, req.params.id as string, body)));
  });

  router.delete('/chat-history/chats/:id', auth, async (req, res) => {
    await chats.deleteChat(principal(res).userId, req.params.id as string);
    res.status(204).end();
  });

  router.post('/chat-history/chats/:id/messages', auth, async (req, res) => {
    const body = parseInput(messageBody, req.body, 'body');
    const message = await chats.appendMessage(
      principal(res).userId,
      req.params.id as string,
      withTokens(body),
    );
    res.status(201).json(messageJson(message));
  });

  router.get('/chat-history/chats/:id/messages', auth, async (req, res) => {
    const page = parseInput(pageQuery, req.query, 'query');
    const result = await chats.listMessages(principal(res).userId, req.params.id as string, page);
    res.json(listBody(result.items.map(messageJson), result.total, page));
  });

  router.delete('/chat-history/messages/:id', auth, async (req, res) => {
    await chats.deleteMessage(principal(res).userId, req.params.id as string);
    res.status(204).end();
  });

  return router;
}

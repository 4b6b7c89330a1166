import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { AdminService } from '../../../app/api/admin/admin-service';
import { FakeUserStore } from '../../../app/api/admin/user-store-fake';
import { ChatService } from '../../../app/api/chat-history/chat-service';
import { FakeChatStore } from '../../../app/api/chat-history/chat-store-fake';
import { BadRequestError, NotFoundError } from '../../../app/http/errors';
import { FakeKeyStore } from '../../../app/api/keys/key-store-fake';
import { pageQuery } from '../../../app/api/schemas';
import { fieldName, parseInput } from '../../../app/api/validation';

describe('ChatService (fake store)', () => {
  const page = { skip: 0, limit: 50 };

  it('appends with consecutive sequences and scopes everything to the owner', async () => {
    const service = new ChatService(new FakeChatStore());
    const chat = await service.createChat('alice', { title: 't', model: null }, [
      { role: 'user', content: 'a', tokens: null },
    ]);
    const second = await service.appendMessage('alice', chat.id, {
      role: 'assistant',
      content: 'b',
      tokens: 1,
    });
    expect(second.sequence).toBe(2);
    await expect(service.getChat('bob', chat.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(
      service.appendMessage('bob', chat.id, { role: 'user', content: 'x', tokens: null }),
    ).rejects.toBeInstanceOf(NotFoundError);
    await expect(service.listMessages('bob', chat.id, page)).rejects.toBeInstanceOf(NotFoundError);
    await expect(service.updateChat('bob', chat.id, { title: 'x' })).rejects.toBeInstanceOf(NotFoundError);
    await expect(service.deleteMessage('bob', second.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(service.deleteChat('bob', chat.id)).rejects.toBeInstanceOf(NotFoundError);
    expect((await service.listChats('bob', page)).total).toBe(0);
    expect((await service.listMessages('alice', chat.id, page)).items.map((m) => m.content)).toEqual([
      'a',
      'b',
    ]);
  });

  it('treats malformed ids as unknown ids (404), without asking the store', async () => {
    const store = new FakeChatStore();
    store.getChat = () => Promise.reject(new Error('store must not be asked'));
    const service = new ChatService(store);
    await expect(service.getChat('alice', 'not-a-uuid')).rejects.toBeInstanceOf(NotFoundError);
    await expect(service.deleteMessage('alice', "1' OR 1=1")).rejects.toBeInstanceOf(NotFoundError);
    await expect(service.getChat('alice', randomUUID())).rejects.toThrow('store must not be asked');
  });
});

describe('AdminService (fake store)', () => {
  it('creates a user with a first key once per name', async () => {
    const keys = new FakeKeyStore();
    const admin = new AdminService(new FakeUserStore(keys));
    const created = await admin.createUser('alice', 'first');
    expect(created.secretKey).toMatch(/^sk-/);
    expect(keys.keys.get(created.key.id)?.userId).toBe(created.user.id);
    await expect(admin.createUser('alice', 'first')).rejects.toMatchObject({ status: 409, param: 'name' });
  });
});

describe('input validation', () => {
  it('names nested fields', () => {
    expect(fieldName(['messages', 0, 'content'])).toBe('messages[0].content');
    expect(fieldName([])).toBe('');
  });

  it('turns mismatches into 400s naming the field', () => {
    const schema = z.object({ messages: z.array(z.object({ content: z.string() })) });
    expect(() => parseInput(schema, { messages: [{ content: 1 }] }, 'body')).toThrow(
      expect.objectContaining({ status: 400, param: 'messages[0].content' }),
    );
    expect(() => parseInput(schema, undefined, 'body')).toThrow(BadRequestError);
  });

  it('pages default to 50, allow up to 100, and refuse anything else', () => {
    expect(parseInput(pageQuery, {}, 'query')).toMatchObject({ skip: 0, limit: 50 });
    expect(parseInput(pageQuery, { skip: '5', limit: '100' }, 'query')).toMatchObject({
      skip: 5,
      limit: 100,
    });
    for (const bad of [
      { limit: '101' },
      { limit: '0' },
      { skip: '-1' },
      { skip: '1e3' },
      { limit: ['1', '2'] },
    ]) {
      expect(() => parseInput(pageQuery, bad, 'query')).toThrow(BadRequestError);
    }
  });
});

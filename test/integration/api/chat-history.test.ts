import { randomUUID } from 'node:crypto';
import { expectNoSecretsLogged, startApi, type ApiHarness } from '../../support/api/api-harness';

jest.setTimeout(60_000);

describe('chat storage (real PostgreSQL)', () => {
  let h: ApiHarness;
  let alice: string;
  let bob: string;
  beforeAll(async () => {
    h = await startApi();
    alice = (await h.createUser()).key;
    bob = (await h.createUser()).key;
  });
  afterAll(async () => {
    expectNoSecretsLogged(h);
    await h.close();
  });

  const newChat = async (key: string, body: object = { title: 't' }) => {
    const res = await h.request('POST', '/api/v1/chat-history/chats', { key, body });
    expect(res.status).toBe(201);
    return res.body as { id: string; title: string; model: string | null };
  };
  const append = (key: string, chatId: string, content: string) =>
    h.request('POST', `/api/v1/chat-history/chats/${chatId}/messages`, {
      key,
      body: { role: 'user', content },
    });

  it('creates, reads, updates, lists and deletes chats and messages', async () => {
    const chat = await newChat(alice, { title: 'First', model: 'mistral-31-24b' });
    expect(chat).toMatchObject({ title: 'First', model: 'mistral-31-24b' });
    const m1 = await append(alice, chat.id, 'hello');
    expect(m1.status).toBe(201);
    expect(m1.body).toMatchObject({
      chat_id: chat.id,
      role: 'user',
      content: 'hello',
      sequence: 1,
      tokens: null,
    });
    const m2 = await h.request('POST', `/v1/chat-history/chats/${chat.id}/messages`, {
      key: alice,
      body: { role: 'assistant', content: 'hi!', tokens: 3 },
    });
    expect(m2.body.sequence).toBe(2);
    const got = await h.request('GET', `/v1/chat-history/chats/${chat.id}`, { key: alice });
    expect(got.body.title).toBe('First');
    const put = await h.request('PUT', `/v1/chat-history/chats/${chat.id}`, {
      key: alice,
      body: { title: 'Renamed' },
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ title: 'Renamed', model: 'mistral-31-24b' });
    const messages = await h.request('GET', `/v1/chat-history/chats/${chat.id}/messages`, { key: alice });
    expect(messages.body.data.map((m: { content: string }) => m.content)).toEqual(['hello', 'hi!']);
    expect(
      (await h.request('DELETE', `/v1/chat-history/messages/${m1.body.id}`, { key: alice })).status,
    ).toBe(204);
    const after = await h.request('GET', `/v1/chat-history/chats/${chat.id}/messages`, { key: alice });
    expect(after.body.data.map((m: { sequence: number }) => m.sequence)).toEqual([2]);
    expect((await append(alice, chat.id, 'again')).body.sequence).toBe(3);
    expect((await h.request('DELETE', `/v1/chat-history/chats/${chat.id}`, { key: alice })).status).toBe(204);
    expect((await h.request('GET', `/v1/chat-history/chats/${chat.id}`, { key: alice })).status).toBe(404);
    expect(await h.database.db('messages').where({ chat_id: chat.id }).count('* as n').first()).toEqual({
      n: '0',
    });
  });

  it('creates a chat with its first messages in one go', async () => {
    const chat = await newChat(alice, {
      title: 'seeded',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi' },
      ],
    });
    const messages = await h.request('GET', `/v1/chat-history/chats/${chat.id}/messages`, { key: alice });
    expect(messages.body.data.map((m: { sequence: number; role: string }) => [m.sequence, m.role])).toEqual([
      [1, 'system'],
      [2, 'user'],
    ]);
  });

  describe("another user's chat or message is a 404 on every route", () => {
    let chatId: string;
    let messageId: string;
    beforeAll(async () => {
      chatId = (await newChat(alice, { title: 'private' })).id;
      messageId = (await append(alice, chatId, 'secret')).body.id;
    });
    const routes: [string, string, (id: { chat: string; message: string }) => string, object | undefined][] =
      [
        ['GET /chats/{id}', 'GET', (i) => `/v1/chat-history/chats/${i.chat}`, undefined],
        ['PUT /chats/{id}', 'PUT', (i) => `/v1/chat-history/chats/${i.chat}`, { title: 'mine now' }],
        ['DELETE /chats/{id}', 'DELETE', (i) => `/v1/chat-history/chats/${i.chat}`, undefined],
        [
          'POST /chats/{id}/messages',
          'POST',
          (i) => `/v1/chat-history/chats/${i.chat}/messages`,
          { role: 'user', content: 'x' },
        ],
        ['GET /chats/{id}/messages', 'GET', (i) => `/v1/chat-history/chats/${i.chat}/messages`, undefined],
        ['DELETE /messages/{id}', 'DELETE', (i) => `/v1/chat-history/messages/${i.message}`, undefined],
      ];
    it.each(routes)('%s', async (_label, method, path, body) => {
      const res = await h.request(method, path({ chat: chatId, message: messageId }), { key: bob, body });
      expect(res.status).toBe(404);
      const missing = await h.request(method, path({ chat: randomUUID(), message: randomUUID() }), {
        key: bob,
        body,
      });
      expect(missing.status).toBe(404);
      expect(missing.body.error.type).toBe(res.body.error.type);
      const malformed = await h.request(method, path({ chat: 'nope', message: 'nope' }), { key: bob, body });
      expect(malformed.status).toBe(404);
    });
    afterAll(async () => {
      const chat = await h.request('GET', `/v1/chat-history/chats/${chatId}`, { key: alice });
      expect(chat.body.title).toBe('private');
      const messages = await h.request('GET', `/v1/chat-history/chats/${chatId}/messages`, { key: alice });
      expect(messages.body.data.map((m: { content: string }) => m.content)).toEqual(['secret']);
    });
    it("someone else's chats are not listed", async () => {
      const list = await h.request('GET', '/v1/chat-history/chats?limit=100', { key: bob });
      expect(list.body.data.map((c: { id: string }) => c.id)).not.toContain(chatId);
    });
  });

  it('paginates with skip and limit (default 50, at most 100)', async () => {
    const { key } = await h.createUser();
    const chat = await newChat(key);
    const messages = Array.from({ length: 120 }, (_, i) => ({ role: 'user', content: `m${i + 1}` }));
    await h.database
      .db('messages')
      .insert(
        messages.map((m, i) => ({ chat_id: chat.id, role: m.role, content: m.content, sequence: i + 1 })),
      );
    const first = await h.request('GET', `/v1/chat-history/chats/${chat.id}/messages`, { key });
    expect(first.body).toMatchObject({ skip: 0, limit: 50, total: 120, has_more: true });
    expect(first.body.data).toHaveLength(50);
    const last = await h.request('GET', `/v1/chat-history/chats/${chat.id}/messages?skip=100&limit=100`, {
      key,
    });
    expect(last.body.data.map((m: { sequence: number }) => m.sequence)).toEqual(
      Array.from({ length: 20 }, (_, i) => 101 + i),
    );
    expect(last.body.has_more).toBe(false);
    for (const query of ['limit=101', 'limit=0', 'skip=-1', 'limit=abc']) {
      const res = await h.request('GET', `/v1/chat-history/chats/${chat.id}/messages?${query}`, { key });
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe(query.split('=')[0]);
    }
    for (let i = 0; i < 3; i += 1) await newChat(key, { title: `c${i}` });
    const chats = await h.request('GET', '/v1/chat-history/chats?skip=1&limit=2', { key });
    expect(chats.body.data.map((c: { title: string }) => c.title)).toEqual(['c1', 'c0']);
    expect(chats.body.total).toBe(4);
  });

  it('validation errors are 400 naming the field; nothing is written', async () => {
    const chat = await newChat(alice);
    const cases: [string, string, object, string][] = [
      ['POST', `/v1/chat-history/chats/${chat.id}/messages`, { role: 'robot', content: 'x' }, 'role'],
      ['POST', `/v1/chat-history/chats/${chat.id}/messages`, { role: 'user' }, 'content'],
      [
        'POST',
        `/v1/chat-history/chats/${chat.id}/messages`,
        { role: 'user', content: 'x', tokens: -1 },
        'tokens',
      ],
      [
        'POST',
        `/v1/chat-history/chats/${chat.id}/messages`,
        { role: 'user', content: 'a\u0000b' },
        'content',
      ],
      ['PUT', `/v1/chat-history/chats/${chat.id}`, { title: 5 }, 'title'],
      ['POST', '/v1/chat-history/chats', { title: 'x'.repeat(501) }, 'title'],
      [
        'POST',
        '/v1/chat-history/chats',
        { title: 'ok', messages: [{ role: 'user', content: 'fine' }, { role: 'user' }] },
        'messages[1].content',
      ],
    ];
    const before = await counts();
    for (const [method, path, body, param] of cases) {
      const res = await h.request(method, path, { key: alice, body });
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe(param);
    }
    expect(await counts()).toEqual(before);
  });

  it('bodies over the limit are 413 and nothing is written', async () => {
    const chat = await newChat(alice);
    const before = await counts();
    const big = await h.request('POST', `/v1/chat-history/chats/${chat.id}/messages`, {
      key: alice,
      body: { role: 'user', content: 'x'.repeat(70_000) },
    });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('request_too_large');
    const bigChat = await h.request('POST', '/v1/chat-history/chats', {
      key: alice,
      body: { messages: Array.from({ length: 10 }, () => ({ role: 'user', content: 'y'.repeat(8_000) })) },
    });
    expect(bigChat.status).toBe(413);
    expect(await counts()).toEqual(before);
  });

  it('a database failure in the middle of creating a chat leaves nothing behind', async () => {
    // A trigger that fails the second message insert: the chat and first message must be rolled back too.
    await h.database.db.raw(`
      CREATE FUNCTION fail_on_boom() RETURNS trigger AS $$
      BEGIN IF NEW.content = 'boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
      CREATE TRIGGER fail_on_boom BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION fail_on_boom();`);
    try {
      const before = await counts();
      const res = await h.request('POST', '/v1/chat-history/chats', {
        key: alice,
        body: {
          title: 'half',
          messages: [
            { role: 'user', content: 'fine' },
            { role: 'user', content: 'boom' },
          ],
        },
      });
      expect(res.status).toBe(500);
      expect(res.body.error.type).toBe('server_error');
      expect(res.body.error.message).not.toContain('boom');
      expect(await counts()).toEqual(before);
    } finally {
      await h.database.db.raw('DROP TRIGGER fail_on_boom ON messages; DROP FUNCTION fail_on_boom();');
    }
  });

  it('keeps sequence gap-free and strictly increasing under 50 concurrent appends', async () => {
    const chat = await newChat(alice);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => append(alice, chat.id, `c${i}`)));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(201));
    const sequences = results.map((r) => r.body.sequence as number).sort((a, b) => a - b);
    expect(sequences).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const stored = await h.database
      .db('messages')
      .where({ chat_id: chat.id })
      .orderBy('created_at')
      .select('sequence');
    expect(stored.map((r) => r.sequence).sort((a, b) => a - b)).toEqual(sequences);
  });

  async function counts() {
    const [chats] = await h.database.db('chats').count('* as n');
    const [messages] = await h.database.db('messages').count('* as n');
    return { chats: chats!.n, messages: messages!.n };
  }
});

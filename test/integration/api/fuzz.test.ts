import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { openApiDocument } from '../../../app/api/openapi';
import {
  ADMIN_TOKEN,
  expectNoSecretsLogged,
  startApi,
  testCatalog,
  testModels,
  type ApiHarness,
} from '../../support/api/api-harness';
import { nodeRequest } from '../../support/http';
import { assertMatchesOpenApi } from '../../support/api/openapi-validator';
import { UpstreamServer } from '../../support/api/upstream-server';

const RUNS = 2_000;

/** Every documented operation, plus a few routes that do not exist. */
const operations: [string, string][] = [
  ...Object.entries(openApiDocument().paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((method) => [method.toUpperCase(), path] as [string, string]),
  ),
  ['GET', '/nope'],
  ['PATCH', '/chat-history/chats/{id}'],
  ['POST', '/models'],
];

jest.setTimeout(60_000);

describe('fuzz: generated requests across the API', () => {
  let upstream: UpstreamServer;
  let h: ApiHarness;
  let key: string;
  let otherKey: string;
  let ownChat: string;
  let othersChat: string;
  let ownMessage: string;

  beforeAll(async () => {
    upstream = await new UpstreamServer().start();
    // Only well-behaved upstream models: a 502 from a deliberately broken upstream would be correct, not a bug.
    h = await startApi({
      env: { UPSTREAM_URL: upstream.url, DEFAULT_MODEL: 'mistral-31-24b' },
      catalog: testCatalog(testModels.filter((m) => !m.upstreamId.startsWith('behaviour:'))),
    });
    ({ key } = await h.createUser('fuzzer'));
    ({ key: otherKey } = await h.createUser('bystander'));
    ownChat = (await h.request('POST', '/v1/chat-history/chats', { key, body: { title: 'mine' } })).body.id;
    othersChat = (await h.request('POST', '/v1/chat-history/chats', { key: otherKey, body: {} })).body.id;
    ownMessage = (
      await h.request('POST', `/v1/chat-history/chats/${ownChat}/messages`, {
        key,
        body: { role: 'user', content: 'x' },
      })
    ).body.id;
  });
  afterAll(async () => {
    expectNoSecretsLogged(h);
    await h.close();
    await upstream.close();
  });

  /** Built after beforeAll, so the ids exist. */
  function requests() {
    const text = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
      fc.constantFrom('', ' ', '\u0000', 'null', '../../etc', '%', '%zz', "' OR 1=1 --", 'x'.repeat(600)),
    );
    const id = () =>
      fc.oneof(
        fc.constantFrom(ownChat, othersChat, ownMessage, randomUUID(), 'mistral-31-24b', 'meta/llama:8b'),
        text.map(encodeURIComponent),
        fc.constantFrom('%E0%A4%A', '%', 'a%2Fb', '%00'),
      );
    const role = fc.oneof(fc.constantFrom('system', 'user', 'assistant', 'tool'), text);
    const scalar = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
    const message = fc.record(
      { role, content: fc.oneof(text, scalar), tokens: fc.oneof(fc.nat(), fc.integer(), scalar) },
      { requiredKeys: [] },
    );
    const plausibleBody = fc.record(
      {
        name: text,
        key_name: text,
        title: fc.oneof(text, scalar),
        model: fc.oneof(
          fc.constantFrom('mistral-31-24b', 'llama 3.3 70b', 'text-embedding', 'mistral'),
          scalar,
        ),
        messages: fc.array(message, { maxLength: 4 }),
        role,
        content: fc.oneof(text, scalar),
        tokens: scalar,
        stream: fc.oneof(fc.boolean(), scalar),
        temperature: scalar,
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      { weight: 4, arbitrary: plausibleBody.map((b) => ({ json: b as unknown })) },
      { weight: 1, arbitrary: fc.jsonValue().map((b) => ({ json: b as unknown })) },
      { weight: 1, arbitrary: fc.string({ maxLength: 60 }).map((raw) => ({ raw })) },
      { weight: 1, arbitrary: fc.constant({}) },
    );
    const query = fc.record(
      {
        skip: fc.oneof(fc.nat().map(String), text),
        limit: fc.oneof(fc.integer({ min: -5, max: 150 }).map(String), text),
      },
      { requiredKeys: [] },
    );
    const auth = fc.constantFrom('key', 'key', 'key', 'none', 'garbage', 'admin', 'revoked-looking');
    return fc.record({
      operation: fc.constantFrom(...operations),
      id: id(),
      query,
      body,
      auth,
      mount: fc.constantFrom('/api/v1', '/v1'),
    });
  }

  it(`answers ${RUNS} generated requests without a 5xx, within the OpenAPI document`, async () => {
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(requests(), async (r) => {
        const [method, template] = r.operation;
        const path = `${r.mount}${template.replace('{id}', r.id)}`;
        const search = new URLSearchParams(r.query as Record<string, string>).toString();
        const headers: Record<string, string> = {};
        const token = {
          key,
          admin: ADMIN_TOKEN,
          garbage: 'sk-zzz',
          'revoked-looking': `sk-${'0'.repeat(12)}.${'A'.repeat(43)}`,
        }[r.auth as 'key'];
        if (token) headers.authorization = `Bearer ${token}`;
        let payload: string | undefined;
        if ('json' in r.body) {
          payload = JSON.stringify(r.body.json);
          headers['content-type'] = 'application/json';
        } else if ('raw' in r.body) {
          payload = r.body.raw;
          headers['content-type'] = 'application/json';
        }
        sent += 1;
        const res = await nodeRequest(`${h.url}${path}${search ? `?${search}` : ''}`, {
          method,
          headers,
          body: payload,
        });
        const contentType = String(res.headers['content-type'] ?? '');
        expect({ status: res.status < 500 ? 'ok' : res.status, method, path, text: res.text }).toMatchObject({
          status: 'ok',
        });
        const parsed = contentType.startsWith('application/json') ? JSON.parse(res.text) : res.text;
        // The URL is sent normalised (`/auth/keys/./limits` arrives as `/auth/keys/limits`): check what was served.
        const served = new URL(`${h.url}${path}`).pathname;
        assertMatchesOpenApi(method, served, res.status, contentType, parsed, res.headers);
        expect(res.headers['x-request-id']).toBeTruthy();
      }),
      { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2_147_483_647) },
    );
    expect(sent).toBeGreaterThanOrEqual(RUNS);
    // Still alive and still correct.
    expect((await h.request('GET', '/v1/models', { key })).status).toBe(200);
    const chat = await h.request('GET', `/v1/chat-history/chats/${othersChat}`, { key: otherKey });
    expect(chat.status).toBe(200);
  }, 300_000);
});

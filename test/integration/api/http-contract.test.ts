import { openApiDocument } from '../../../app/api/openapi';
import { ADMIN_TOKEN, startApi, type ApiHarness } from '../../support/api/api-harness';
import { UpstreamServer } from '../../support/api/upstream-server';
import { nodeRequest } from '../../support/http';

jest.setTimeout(60_000);

const doc = openApiDocument();
type Schema = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const component = (name: string) =>
  doc.components.schemas[name as keyof typeof doc.components.schemas] as Schema;
const queryParam = (path: string, name: string) =>
  (
    (doc.paths[path]!.get as { parameters: { name: string; schema: Schema }[] }).parameters.find(
      (p) => p.name === name,
    ) as { schema: Schema }
  ).schema;

/** node's http client: fetch refuses to send TRACE. */
async function raw(base: string, method: string, path: string, key?: string) {
  const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
  const res = await nodeRequest(`${base}${path}`, { method, headers });
  const json = String(res.headers['content-type']).startsWith('application/json');
  return { ...res, body: (json ? JSON.parse(res.text) : {}) as Schema };
}

describe('the HTTP contract: what an outside fuzzer found, 405/OPTIONS, unknown fields, GET /', () => {
  let h: ApiHarness;
  let upstream: UpstreamServer;
  let key: string;
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

  beforeAll(async () => {
    upstream = await new UpstreamServer().start();
    h = await startApi({ env: { UPSTREAM_URL: upstream.url } });
    ({ key } = await h.createUser('contract'));
  });
  afterAll(async () => {
    await h.close();
    await upstream.close();
  });

  it('accepts skip and limit up to the maxima the document states, and names the parameter beyond', async () => {
    const limit = queryParam('/auth/keys', 'limit');
    const skip = queryParam('/auth/keys', 'skip');
    expect(limit).toMatchObject({ type: 'integer', minimum: 1, maximum: 100 });
    expect(skip).toMatchObject({ type: 'integer', minimum: 0, maximum: 1_000_000_000 });
    for (const [name, max] of [
      ['limit', limit.maximum],
      ['skip', skip.maximum],
    ] as const) {
      expect((await h.request('GET', `/v1/auth/keys?${name}=${max}`, { key })).status).toBe(200);
      const over = await h.request('GET', `/v1/auth/keys?${name}=${max + 1}`, { key });
      expect(over.status).toBe(400);
      expect(over.body.error.param).toBe(name);
    }
  });

  it('accepts tokens up to 2^31-1 as documented and refuses more', async () => {
    expect(component('CreateMessage').properties.tokens).toEqual({
      anyOf: [{ type: 'integer', minimum: 0, maximum: 2_147_483_647 }, { type: 'null' }],
    });
    const chat = (await h.request('POST', '/v1/chat-history/chats', { key })).body.id;
    const message = (tokens: number) =>
      h.request('POST', `/v1/chat-history/chats/${chat}/messages`, {
        key,
        body: { role: 'user', content: 'x', tokens },
      });
    expect((await message(2_147_483_647)).status).toBe(201);
    const over = await message(2_147_483_648);
    expect(over.status).toBe(400);
    expect(over.body.error.param).toBe('tokens');
  });

  it('documents that a chat completion message needs a non-empty role', async () => {
    const role = component('ChatCompletionRequest').properties.messages.items.properties.role;
    expect(role).toMatchObject({ type: 'string', minLength: 1, maxLength: 64 });
    const res = await h.request('POST', '/v1/chat/completions', {
      key,
      body: { model: 'mistral-31-24b', messages: [{ role: '', content: 'hi' }] },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe('messages[0].role');
    expect(upstream.requests).toHaveLength(0);
  });

  it('creates a key or a chat from a POST without a body, as the document allows', async () => {
    expect((doc.paths['/auth/keys'] as Schema).post.requestBody.required).toBe(false);
    const created = await h.request('POST', '/v1/auth/keys', { key });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ object: 'api_key', name: '' });
    expect((await h.request('POST', '/v1/chat-history/chats', { key })).status).toBe(201);
    // A body that is there is still checked.
    const wrong = await h.request('POST', '/v1/auth/keys', { key, body: { name: 7 } });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.param).toBe('name');
  });

  it('answers TRACE (and any other method a path does not serve) with 405 and Allow, for every path', async () => {
    for (const [template, operations] of Object.entries(doc.paths)) {
      const path = `/api/v1${template.replace('{id}', 'some-id')}`;
      const methods = Object.keys(operations).map((m) => m.toUpperCase());
      const expected = [...methods, ...(methods.includes('GET') ? ['HEAD'] : []), 'OPTIONS']
        .sort()
        .join(', ');
      for (const method of [
        'TRACE',
        'PATCH',
        ...['GET', 'POST', 'PUT', 'DELETE'].filter((m) => !methods.includes(m)),
      ]) {
        const res = await raw(h.url, method, path, key);
        expect({ method, path, status: res.status, allow: res.headers.allow }).toEqual({
          method,
          path,
          status: 405,
          allow: expected,
        });
        expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'method_not_allowed' });
        expect(res.body.error.message).toContain(`${method} is not supported on ${path}`);
      }
      const options = await raw(h.url, 'OPTIONS', path);
      expect(options.text).toBe('');
      expect({ path, status: options.status, allow: options.headers.allow }).toEqual({
        path,
        status: 204,
        allow: expected,
      });
    }
    expect((await raw(h.url, 'OPTIONS', '/api/v1/nowhere')).status).toBe(404);
    expect((await raw(h.url, 'TRACE', '/api/v1/nowhere')).status).toBe(404);
  });

  it('names an unknown body field instead of calling the JSON body not an object', async () => {
    const res = await h.request('POST', '/api/v1/admin/users', {
      headers: admin,
      body: { name: 'a', email: 'a@example.com' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'unknown_field', param: 'email' });
    expect(res.body.error.message).toBe('Unknown field email (body); remove it. It accepts name, key_name.');
    // Every strict body of the document, and a nested one.
    const chat = (await h.request('POST', '/v1/chat-history/chats', { key })).body.id;
    for (const [path, method] of [
      ['/v1/auth/keys', 'POST'],
      ['/v1/chat-history/chats', 'POST'],
      [`/v1/chat-history/chats/${chat}`, 'PUT'],
      [`/v1/chat-history/chats/${chat}/messages`, 'POST'],
    ] as const) {
      const body = method === 'POST' && path.endsWith('messages') ? { role: 'user', content: 'x' } : {};
      const unknown = await h.request(method, path, { key, body: { ...body, colour: 'red' } });
      expect({ path, status: unknown.status, param: unknown.body.error?.param }).toEqual({
        path,
        status: 400,
        param: 'colour',
      });
    }
    const nested = await h.request('POST', '/v1/chat-history/chats', {
      key,
      body: { messages: [{ role: 'user', content: 'x', colour: 'red' }] },
    });
    expect(nested.body.error).toMatchObject({ param: 'messages[0].colour', code: 'unknown_field' });
    // What is really not an object is still called so.
    const array = await h.request('POST', '/v1/auth/keys', { key, body: [1] });
    expect(array.body.error.message).toBe(
      'The request body must be a JSON object sent with Content-Type: application/json.',
    );
  });

  it('GET / answers a JSON index whose links all lead somewhere', async () => {
    const res = await fetch(`${h.url}/`);
    expect(res.status).toBe(200);
    const index = (await res.json()) as { name: string; version: string; links: Record<string, string> };
    expect(index).toMatchObject({ name: 'modelgate', version: doc.info.version });
    expect(index.links).toEqual({
      docs: '/docs',
      openapi: '/api/v1/openapi.json',
      models: '/v1/models',
      chat_completions: '/v1/chat/completions',
      readiness: '/readyz',
      liveness: '/livez',
      status: '/status',
      metrics: '/metrics',
    });
    for (const link of Object.values(index.links)) {
      const answer = await fetch(`${h.url}${link}`);
      // /v1/chat/completions is POST only: 405 with Allow says how to use it.
      expect({ link, found: ![404, 500].includes(answer.status) }).toEqual({ link, found: true });
    }
  });

  it('serves /docs and its two files from the app, with a CSP that forbids other origins', async () => {
    const page = await fetch(`${h.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    const html = await page.text();
    for (const [file, type] of [
      ['/docs/swagger-ui-bundle.js', 'javascript'],
      ['/docs/swagger-ui.css', 'text/css'],
      ['/docs/init.js', 'javascript'],
    ] as const) {
      expect(html).toContain(`"${file}"`);
      const asset = await fetch(`${h.url}${file}`);
      expect({ file, status: asset.status }).toEqual({ file, status: 200 });
      expect(asset.headers.get('content-type')).toContain(type);
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }
    expect(html).not.toMatch(/https?:\/\//);
    // Only the files the page uses: nothing else of the package is reachable.
    expect((await fetch(`${h.url}/docs/index.html`)).status).toBe(404);
    expect((await fetch(`${h.url}/docs/..%2fpackage.json`)).status).toBe(404);
  });
});

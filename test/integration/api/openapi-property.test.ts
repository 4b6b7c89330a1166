import { randomUUID } from 'node:crypto';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
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
import { assertMatchesOpenApi } from '../../support/api/openapi-validator';
import { arbitraryFor, resolve, type JsonSchema } from '../../support/api/schema-arbitrary';
import { UpstreamServer } from '../../support/api/upstream-server';
import { nodeRequest } from '../../support/http';

/**
 * Requests generated from the document the server publishes (GET /api/v1/openapi.json), sent to the app built by
 * createApp around the real API and PostgreSQL: every valid one is accepted (its documented success, or 404/409
 * where the state says so: an unknown id, a name taken) and every answer matches the document; one field broken
 * is a 400 whose `param` names it.
 */
const VALID_RUNS = 300;
const INVALID_RUNS = 200;

jest.setTimeout(120_000);

interface Parameter {
  name: string;
  in: 'path' | 'query';
  required: boolean;
  schema: JsonSchema;
}
interface DocOperation {
  security?: unknown[];
  parameters?: Parameter[];
  requestBody?: { required: boolean; content: { 'application/json': { schema: JsonSchema } } };
  responses: Record<string, unknown>;
}
interface Document {
  paths: Record<string, Record<string, DocOperation>>;
  components: { schemas: Record<string, JsonSchema> };
}

interface GeneratedRequest {
  method: string;
  template: string;
  operation: DocOperation;
  path: Record<string, string>;
  query: Record<string, string>;
  /** undefined: no body sent. */
  body: unknown;
}

/** Values of every JSON type, some at the edges of this API's ranges; which are invalid depends on the field. */
const CANDIDATES: unknown[] = [12345, 'x', '', true, null, {}, [], -1, 1.5, 2_147_483_648, 'z'.repeat(600)];
const BAD_QUERY = ['-1', 'x', '1.5', '', '1e3', ' 7'];

describe('property: the published OpenAPI document and the server agree', () => {
  let upstream: UpstreamServer;
  let h: ApiHarness;
  let key: string;
  let doc: Document;
  let ids: string[];
  const ajv = new Ajv2020({ strict: false, allErrors: false });
  addFormats(ajv);

  beforeAll(async () => {
    upstream = await new UpstreamServer().start();
    // Models the state cannot refuse: no test-upstream behaviours (a 502 from a broken upstream is right, not a
    // disagreement) and no embedding models (a chat completion for one is a 400 naming `model`).
    const servable = testModels.filter((m) => !m.upstreamId.startsWith('behaviour:') && m.type === 'LLM');
    h = await startApi({
      env: { UPSTREAM_URL: upstream.url, DEFAULT_MODEL: 'mistral-31-24b' },
      catalog: testCatalog(servable),
    });
    const property = await h.createUser('property');
    key = property.key;
    // Limits it never reaches, so routed answers carry the x-ratelimit-* headers the document describes.
    const limited = await h.request('PUT', `/v1/admin/keys/${property.keyId}/limits`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      body: { requests_per_minute: 1_000_000 },
    });
    expect(limited.status).toBe(200);
    const { key: otherKey } = await h.createUser('bystander');
    const ownChat = (await h.request('POST', '/v1/chat-history/chats', { key, body: {} })).body.id;
    const othersChat = (await h.request('POST', '/v1/chat-history/chats', { key: otherKey, body: {} })).body
      .id;
    const ownMessage = (
      await h.request('POST', `/v1/chat-history/chats/${ownChat}/messages`, {
        key,
        body: { role: 'user', content: 'x' },
      })
    ).body.id;
    ids = [ownChat, othersChat, ownMessage, randomUUID(), ...servable.map((m) => m.id)];
    const published = await h.request<Document>('GET', '/api/v1/openapi.json');
    doc = published.body;
    ajv.addSchema({ ...doc, $id: 'openapi' } as object);
  });
  afterAll(async () => {
    if (h) expectNoSecretsLogged(h);
    await h?.close();
    await upstream?.close();
  });

  it('is the document the code builds', () => {
    expect(doc).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });

  const operations = () =>
    Object.entries(doc.paths).flatMap(([template, ops]) =>
      Object.entries(ops).map(([method, operation]) => ({
        method: method.toUpperCase(),
        template,
        operation,
      })),
    );

  function requestFor(op: { method: string; template: string; operation: DocOperation }) {
    const components = doc.components.schemas;
    const params = op.operation.parameters ?? [];
    const id = fc.oneof(
      fc.constantFrom(...ids),
      fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/^\.{1,2}$/.test(s)),
    );
    const path = fc.record(
      Object.fromEntries(
        params.filter((p) => p.in === 'path').map((p) => [p.name, id.map(encodeURIComponent)]),
      ),
    );
    const query = fc.record(
      Object.fromEntries(
        params
          .filter((p) => p.in === 'query')
          .map((p) => [p.name, arbitraryFor(p.schema, components).map(String)]),
      ),
      { requiredKeys: params.filter((p) => p.in === 'query' && p.required).map((p) => p.name) },
    );
    const bodySpec = op.operation.requestBody;
    const body = bodySpec
      ? bodySpec.required
        ? arbitraryFor(bodySpec.content['application/json'].schema, components)
        : fc.option(arbitraryFor(bodySpec.content['application/json'].schema, components), { nil: undefined })
      : fc.constant(undefined);
    return fc
      .record({ path, query, body })
      .map((r) => ({ ...op, ...r }) as GeneratedRequest & { path: Record<string, string> });
  }

  async function call(r: GeneratedRequest) {
    const path = r.template.replace(/\{(\w+)\}/g, (_m, name: string) => r.path[name] ?? '');
    const search = new URLSearchParams(r.query).toString();
    const url = `/api/v1${path}${search ? `?${search}` : ''}`;
    const headers: Record<string, string> = {};
    const security = r.operation.security;
    if (security === undefined) headers.authorization = `Bearer ${key}`;
    else if (security.length > 0) headers.authorization = `Bearer ${ADMIN_TOKEN}`;
    let payload: string | undefined;
    if (r.body !== undefined) {
      payload = JSON.stringify(r.body);
      headers['content-type'] = 'application/json';
    }
    const res = await nodeRequest(`${h.url}${url}`, { method: r.method, headers, body: payload });
    const contentType = String(res.headers['content-type'] ?? '');
    const body: unknown = contentType.startsWith('application/json') ? JSON.parse(res.text) : res.text;
    if (res.headers['x-ratelimit-limit-requests'] !== undefined) rateLimited += 1;
    return { url, status: res.status, contentType, body, headers: res.headers };
  }
  /** Answers that carried the key's x-ratelimit-* headers (checked against the document like every header). */
  let rateLimited = 0;

  it(`accepts ${VALID_RUNS} schema-valid requests and answers each as documented`, async () => {
    const statuses = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...operations()).chain((op) => requestFor(op)),
        async (r) => {
          const res = await call(r);
          statuses.set(`${res.status}`, (statuses.get(`${res.status}`) ?? 0) + 1);
          const success = Object.keys(r.operation.responses).filter((s) => s.startsWith('2'));
          // 404: an id nobody has (or another user's); 409: a user name generated twice.
          const allowed = [...success.map(Number), 404, 409];
          if (!allowed.includes(res.status))
            throw new Error(
              `${r.method} ${res.url} ${JSON.stringify(r.body)} answered ${res.status}, not one of ` +
                `${allowed.join(', ')}: ${JSON.stringify(res.body).slice(0, 400)}`,
            );
          assertMatchesOpenApi(r.method, res.url, res.status, res.contentType, res.body, res.headers);
        },
      ),
      { numRuns: VALID_RUNS, seed: Number(process.env.PROPERTY_SEED ?? Date.now() % 2_147_483_647) },
    );
    // The run reached the routes' success paths, not only their 404s.
    const succeeded = [...statuses].filter(([s]) => s.startsWith('2')).reduce((n, [, c]) => n + c, 0);
    expect(succeeded).toBeGreaterThan(VALID_RUNS / 3);
    expect(rateLimited).toBeGreaterThan(0);
  });

  /** The ways to break one field of a valid request, each with the `param` the 400 must name. */
  function breakages(
    r: GeneratedRequest,
  ): { param: string; apply: (r: GeneratedRequest) => GeneratedRequest }[] {
    const out: { param: string; apply: (r: GeneratedRequest) => GeneratedRequest }[] = [];
    for (const p of r.operation.parameters ?? []) {
      if (p.in !== 'query') continue;
      const validate = ajv.compile(p.schema);
      for (const bad of [...BAD_QUERY, String(Number(p.schema.maximum ?? 0) + 1)]) {
        // A query value is text: broken only when no reading of it fits, as a string (`?model=1` names a model)
        // nor, for digits, as the number an integer parameter parses it to.
        if (validate(bad) || (/^\d+$/.test(bad) && validate(Number(bad)))) continue;
        out.push({ param: p.name, apply: (v) => ({ ...v, query: { ...v.query, [p.name]: bad } }) });
      }
    }
    const spec = r.operation.requestBody;
    if (!spec) return out;
    const ref = spec.content['application/json'].schema.$ref as string;
    const validate = ajv.getSchema(`openapi${ref}`) ?? ajv.compile({ $ref: `openapi${ref}` });
    const schema = resolve(spec.content['application/json'].schema, doc.components.schemas);
    const base = (r.body ?? {}) as Record<string, unknown>;
    const withBody = (body: unknown) => (v: GeneratedRequest) => ({ ...v, body });
    const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
    for (const [name, property] of Object.entries(properties)) {
      for (const bad of CANDIDATES) {
        const body = { ...base, [name]: bad };
        if (!validate(body)) out.push({ param: name, apply: withBody(body) });
      }
      if (((schema.required ?? []) as string[]).includes(name)) {
        const { [name]: _dropped, ...rest } = base;
        out.push({ param: name, apply: withBody(rest) });
      }
      // One level down: a field of the first item of an array of objects (messages[0].role).
      const items = Array.isArray(base[name]) ? (base[name] as unknown[]) : [];
      const itemSchema: JsonSchema | undefined = property.items
        ? resolve(property.items as JsonSchema, doc.components.schemas)
        : undefined;
      if (items.length > 0 && itemSchema?.properties) {
        for (const field of Object.keys(itemSchema.properties as object)) {
          for (const bad of CANDIDATES) {
            const body = { ...base, [name]: [{ ...(items[0] as object), [field]: bad }, ...items.slice(1)] };
            if (!validate(body)) out.push({ param: `${name}[0].${field}`, apply: withBody(body) });
          }
        }
      }
    }
    if (schema.additionalProperties === false) {
      out.push({ param: 'unexpected_field', apply: withBody({ ...base, unexpected_field: 1 }) });
    }
    return out;
  }

  it(`answers ${INVALID_RUNS} requests with one field broken with a 400 naming it`, async () => {
    const breakable = operations().filter(
      (op) => op.operation.requestBody || op.operation.parameters?.some((p) => p.in === 'query'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...breakable).chain((op) => fc.tuple(requestFor(op), fc.nat())),
        async ([valid, pick]) => {
          const ways = breakages(valid);
          const way = ways[pick % ways.length]!;
          const r = way.apply(valid);
          const res = await call(r);
          const param = (res.body as { error?: { param?: unknown } }).error?.param;
          if (res.status !== 400 || param !== way.param)
            throw new Error(
              `${r.method} ${res.url} ${JSON.stringify(r.body)} (${way.param} broken) answered ${res.status} ` +
                `naming ${JSON.stringify(param)}: ${JSON.stringify(res.body).slice(0, 400)}`,
            );
          assertMatchesOpenApi(r.method, res.url, res.status, res.contentType, res.body, res.headers);
        },
      ),
      { numRuns: INVALID_RUNS, seed: Number(process.env.PROPERTY_SEED ?? Date.now() % 2_147_483_647) },
    );
  });
});

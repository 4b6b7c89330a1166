import { expectNoSecretsLogged, startApi, testModels, type ApiHarness } from '../../support/api/api-harness';
import { buildArtifact } from '../../../core/artifact/schema';
import { parseMorpheus } from '../../../init/models/morpheus';
import { createSnapshot, staticCatalog } from '../../../app/catalog/catalog';
import { openApiDocument } from '../../../app/api/openapi';
import { fixture } from '../../support/artifacts';

jest.setTimeout(60_000);

describe('GET /models (catalog from the artifact)', () => {
  let h: ApiHarness;
  let key: string;
  beforeAll(async () => {
    h = await startApi();
    ({ key } = await h.createUser());
  });
  afterAll(async () => {
    expectNoSecretsLogged(h);
    await h.close();
  });

  it('lists every model of the artifact in the OpenAI list shape, on both mount points', async () => {
    for (const prefix of ['/api/v1', '/v1']) {
      const res = await h.request('GET', `${prefix}/models`, { key });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-request-id')).toBeTruthy();
      expect(res.body.object).toBe('list');
      expect(res.body.data.map((m: { id: string }) => m.id).sort()).toEqual(
        testModels.map((m) => m.id).sort(),
      );
      expect(res.body.data.find((m: { id: string }) => m.id === 'mistral-31-24b')).toEqual({
        id: 'mistral-31-24b',
        object: 'model',
        created: 1_745_330_395,
        owned_by: '0xowner',
        upstream_id: '0x' + 'a'.repeat(64),
        tags: ['Mistral'],
        type: 'LLM',
      });
    }
  });

  it.each(['llama 3.3 70b', 'meta/llama:8b', 'mistral-31-24b'])(
    'GET /models/{id} finds %p URL-encoded',
    async (id) => {
      const res = await h.request('GET', `/v1/models/${encodeURIComponent(id)}`, { key });
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(id);
    },
  );

  it('GET /models/{id} accepts an unencoded slash and an upstream id', async () => {
    expect((await h.request('GET', '/v1/models/meta/llama:8b', { key })).body.id).toBe('meta/llama:8b');
    const byUpstream = await h.request('GET', `/v1/models/0x${'b'.repeat(64)}`, { key });
    expect(byUpstream.body.id).toBe('llama 3.3 70b');
  });

  it('an unknown model is a 404 with up to three near misses', async () => {
    const res = await h.request('GET', '/v1/models/mistral-31-24', { key });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('model_not_found');
    expect(res.body.error.suggestions).toContain('mistral-31-24b');
    expect(res.body.error.suggestions.length).toBeLessThanOrEqual(3);
    expect(res.body.error.message).toContain('mistral-31-24b');
  });

  it('echoes a sane X-Request-Id', async () => {
    const res = await h.request('GET', '/v1/models', { key, headers: { 'x-request-id': 'abc-123' } });
    expect(res.headers.get('x-request-id')).toBe('abc-123');
  });

  it('answers 503 while no artifact is loaded', async () => {
    const empty = await startApi({ database: h.database, catalog: staticCatalog(undefined) });
    try {
      const res = await empty.request('GET', '/v1/models', { key });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('catalog_unavailable');
    } finally {
      await empty.close();
    }
  });

  it('a malformed %-encoding in the path is a 400, not a crash', async () => {
    for (const path of ['/v1/models/%E0%A4%A', '/v1/chat-history/chats/%']) {
      const res = await h.request('GET', path, { key });
      expect(res.status).toBe(400);
      expect(res.body.error.type).toBe('invalid_request_error');
    }
  });

  it('serves the OpenAPI document without a key', async () => {
    const res = await h.request('GET', '/api/v1/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });

  it('a catalog normalised from a messy source never lists deleted models and serves every awkward name', async () => {
    const { models, warnings } = parseMorpheus(fixture('quirks.json'));
    const catalog = staticCatalog(
      createSnapshot(
        buildArtifact({
          models,
          warnings,
          source: { url: 'file:///quirks.json', etag: null, lastModified: null },
          fetchedAt: new Date().toISOString(),
        }),
        'quirks',
      ),
    );
    const quirky = await startApi({ database: h.database, catalog });
    try {
      const list = await quirky.request('GET', '/v1/models', { key });
      const ids: string[] = list.body.data.map((m: { id: string }) => m.id);
      expect(ids).not.toContain('retired-model');
      expect(ids.sort()).toEqual(models.map((m) => m.id).sort());
      for (const id of ids) {
        const one = await quirky.request('GET', `/v1/models/${encodeURIComponent(id)}`, { key });
        expect(one.status).toBe(200);
        expect(one.body.id).toBe(id);
      }
      expect((await quirky.request('GET', '/v1/models/retired-model', { key })).status).toBe(404);
    } finally {
      await quirky.close();
    }
  });

  it('unknown routes are 404 in the OpenAI shape', async () => {
    const res = await h.request('GET', '/v1/nope', { key });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('route_not_found');
  });
});

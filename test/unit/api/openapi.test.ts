import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { Router } from 'express';
import { Registry } from 'prom-client';
import { loadConfig } from '../../../core/config';
import { createDatabase } from '../../../core/db/connection';
import { silentLogger } from '../../../core/logger';
import { staticCatalog } from '../../../app/catalog/catalog';
import { createApiRouter } from '../../../app/api';
import { openApiDocument as buildDocument } from '../../../app/api/openapi';

const openApiDocument = buildDocument();

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
}

/** "METHOD /path/{param}" for every route the router really serves (nested routers included). */
function routesOf(router: Router): string[] {
  const out: string[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const path = layer.route.path.replace(/[:*](\w+)/g, '{$1}');
        for (const [method, on] of Object.entries(layer.route.methods))
          if (on) out.push(`${method.toUpperCase()} ${path}`);
      } else if (layer.handle.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((router as unknown as { stack: Layer[] }).stack);
  return out.sort();
}

function documented(): string[] {
  return Object.entries(openApiDocument.paths)
    .flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    )
    .sort();
}

describe('OpenAPI document', () => {
  // Building the router opens no connection: knex connects on first query, and start() is not called.
  const db = createDatabase({ url: 'postgres://nobody@127.0.0.1:1/none' });
  afterAll(() => db.destroy());
  const api = createApiRouter({
    config: loadConfig('app', { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' }),
    logger: silentLogger(),
    db,
    catalog: staticCatalog(undefined),
    registry: new Registry(),
  });

  it('describes exactly the routes the router serves', () => {
    expect(routesOf(api.router)).toEqual(documented());
  });

  it('is OpenAPI 3.1 whose schemas compile and whose references resolve', () => {
    expect(openApiDocument.openapi).toBe('3.1.0');
    const ajv = new Ajv2020({ strict: false });
    addFormats(ajv);
    ajv.addSchema({ ...openApiDocument, $id: 'openapi' } as object);
    for (const name of Object.keys(openApiDocument.components.schemas)) {
      expect(() => ajv.compile({ $ref: `openapi#/components/schemas/${name}` })).not.toThrow();
    }
    const refs = JSON.stringify(openApiDocument).match(/"#\/components\/schemas\/[A-Za-z]+"/g) ?? [];
    for (const ref of refs) {
      const name = ref.slice('"#/components/schemas/'.length, -1);
      expect(Object.keys(openApiDocument.components.schemas)).toContain(name);
    }
  });

  it('gives every operation a documented 2xx response and an error schema for the rest', () => {
    for (const [path, operations] of Object.entries(openApiDocument.paths)) {
      for (const [method, operation] of Object.entries(operations as Record<string, { responses: object }>)) {
        const codes = Object.keys(operation.responses);
        expect({ route: `${method} ${path}`, ok: codes.some((c) => c.startsWith('2')) }).toEqual({
          route: `${method} ${path}`,
          ok: true,
        });
      }
    }
  });

  it('documents the routed operations: the embeddings body from its validator, who served it, the routing errors', () => {
    interface Documented {
      requestBody: { content: Record<string, { schema: unknown }> };
      responses: Record<string, { description: string; headers?: Record<string, unknown> }>;
    }
    const paths = openApiDocument.paths as Record<string, Record<string, Documented>>;
    const embeddings = paths['/embeddings']!.post!;
    expect(embeddings.requestBody.content['application/json']!.schema).toEqual({
      $ref: '#/components/schemas/EmbeddingRequest',
    });
    expect(openApiDocument.components.schemas.EmbeddingRequest).toMatchObject({
      required: ['model', 'input'],
      properties: { model: { type: 'string', minLength: 1, maxLength: 512 } },
    });
    for (const routed of [embeddings, paths['/chat/completions']!.post!]) {
      const rateLimit = ['requests', 'tokens'].flatMap((per) =>
        ['limit', 'remaining', 'reset'].map((what) => `x-ratelimit-${what}-${per}`),
      );
      expect(Object.keys(routed.responses[200]!.headers!).sort()).toEqual(
        ['X-Modelgate-Upstream', 'X-Modelgate-Upstream-Model', ...rateLimit].sort(),
      );
      // A refusal by the key's limits says when to retry and how the limits stand; so does any error of a request
      // they admitted.
      expect(Object.keys(routed.responses[429]!.headers!).sort()).toEqual(
        ['Retry-After', ...rateLimit].sort(),
      );
      for (const status of ['400', '502', '503', '504'])
        expect(Object.keys(routed.responses[status]!.headers!)).toEqual(expect.arrayContaining(rateLimit));
      expect(routed.responses[200]!.headers!['x-ratelimit-remaining-requests']).toMatchObject({
        schema: { type: 'integer', minimum: 0 },
      });
      expect(Object.keys(routed.responses)).toEqual(
        expect.arrayContaining(['400', '401', '404', '429', '502', '503', '504']),
      );
      expect(routed.responses[400]!.description).toContain('model_not_supported');
      expect(routed.responses[503]!.description).toContain('database_unavailable');
    }
  });

  it('documents 503 with Retry-After on every operation that needs the database or an API key', () => {
    type Reply = { headers?: Record<string, unknown> };
    const missing: string[] = [];
    for (const [path, operations] of Object.entries(openApiDocument.paths)) {
      if (path === '/openapi.json') continue;
      for (const [method, operation] of Object.entries(
        operations as Record<string, { responses: Record<string, Reply> }>,
      )) {
        if (!operation.responses['503']?.headers?.['Retry-After']) missing.push(`${method} ${path}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

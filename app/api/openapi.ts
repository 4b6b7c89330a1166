import * as z from 'zod';
import { packageVersion } from '../../core/package-root';
import { errorBodySchema } from '../http/errors';
import { adminOperations, adminSchemas, createUserBody } from './admin/admin-routes';
import {
  chatCompletionBody,
  chatCompletionOperations,
  chatCompletionSchema,
} from './chat-completions/chat-completion-routes';
import {
  chatOperations,
  chatSchemas,
  createChatBody,
  createMessageBody,
  updateChatBody,
} from './chat-history/chat-routes';
import { embeddingBody, embeddingListSchema, embeddingOperations } from './embeddings/embedding-routes';
import { createKeyBody, keyOperations, keySchemas } from './keys/key-routes';
import { limitOperations, limitPolicyBody, limitSchemas } from './limits/limit-routes';
import { modelOperations, modelSchemas } from './models/model-routes';
import { operation, RETRY_AFTER, type HeaderDoc, type Operation, type Reply } from './operations';
import { adminUsageOperations, usageOperations, usageSchemas } from './usage/usage-routes';

/**
 * The OpenAPI 3.1 document of the API, served at /api/v1/openapi.json: assembled from the route table (the
 * operations each feature routes with) and converted from the zod schemas the routes parse and answer with, so a
 * limit, range, enum or required field is written once. Request schemas are described by what they accept
 * (`io: 'input'`), responses by what they produce.
 */

export const openApiOperation = operation({
  operationId: 'getOpenApi',
  method: 'get',
  path: '/openapi.json',
  summary: 'This document.',
  security: 'none',
  responses: { 200: { description: 'OpenAPI 3.1 document.', schema: () => z.looseObject({}) } },
  errors: [],
});

/** Every route of the API router by feature (the document's tags), in the order the document lists them. */
const features: readonly (readonly [string, readonly Operation[]])[] = [
  ['meta', [openApiOperation]],
  ['models', Object.values(modelOperations)],
  ['chat completions', Object.values(chatCompletionOperations)],
  ['embeddings', Object.values(embeddingOperations)],
  ['keys', Object.values(keyOperations)],
  ['admin', Object.values(adminOperations)],
  ['limits', Object.values(limitOperations)],
  ['chat history', Object.values(chatOperations)],
  ['usage', [...Object.values(usageOperations), ...Object.values(adminUsageOperations)]],
];
export const apiOperations: readonly Operation[] = features.flatMap(([, ops]) => ops);
const tagOf = new Map(features.flatMap(([tag, ops]) => ops.map((op) => [op, tag] as const)));

/** Named schemas (components/schemas): request bodies described as input, everything answered as output. */
const requestComponents = {
  ChatCompletionRequest: chatCompletionBody,
  EmbeddingRequest: embeddingBody,
  CreateKey: createKeyBody,
  CreateUser: createUserBody,
  CreateChat: createChatBody,
  UpdateChat: updateChatBody,
  CreateMessage: createMessageBody,
  LimitPolicy: limitPolicyBody,
};
const responseComponents = () => ({
  Error: errorBodySchema(),
  Model: modelSchemas().model,
  ModelList: modelSchemas().modelList,
  ChatCompletion: chatCompletionSchema(),
  EmbeddingList: embeddingListSchema(),
  ApiKey: keySchemas().apiKey,
  CreatedApiKey: keySchemas().createdApiKey,
  ApiKeyList: keySchemas().apiKeyList,
  User: adminSchemas().user,
  UserList: adminSchemas().userList,
  CreatedUser: adminSchemas().createdUser,
  Chat: chatSchemas().chat,
  ChatList: chatSchemas().chatList,
  Message: chatSchemas().message,
  MessageList: chatSchemas().messageList,
  Usage: usageSchemas().ownUsage,
  AdminUsage: usageSchemas().adminUsage,
  UserLimits: limitSchemas().userLimits,
  KeyLimits: limitSchemas().keyLimits,
});

/** Error statuses every route can answer: a malformed path encoding or an unreadable body, and a failure. */
const ANY_ROUTE_ERRORS = [400, 413, 415, 500] as const;

const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid request; `error.param` names the field or parameter.',
  401: 'Missing, unknown or revoked credentials.',
  404: 'Not found, or owned by another user.',
  409: 'Conflicts with what exists.',
  413: 'Request body larger than BODY_LIMIT.',
  415: 'Body in an unsupported encoding.',
  500: 'Internal error; the X-Request-Id finds its log line.',
  503: 'Temporarily unavailable: `database_unavailable` while the database cannot be reached (with Retry-After).',
};

type JsonSchema = Record<string, unknown>;

/** A reply's headers as the document writes them: a bare description is a string header. */
function headerDocs(headers: Reply['headers'] = {}): Record<string, HeaderDoc> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, doc]) => [
      name,
      typeof doc === 'string' ? { description: doc, schema: { type: 'string' } } : doc,
    ]),
  );
}

/** `/auth/keys/:id` and `/models/*id` as the document writes them. */
export const documentPath = (expressPath: string) => expressPath.replace(/[:*](\w+)/g, '{$1}');

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ 'application/json': { schema } });

function components(named: Record<string, z.ZodType>, io: 'input' | 'output') {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    io,
    target: 'draft-2020-12',
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, JsonSchema> };
  const byId = new Map(Object.entries(named).map(([id, schema]) => [schema, id]));
  for (const schema of Object.values(schemas)) {
    delete schema.$schema;
    delete schema.$id;
  }
  return { schemas, nameOf: (schema: z.ZodType) => byId.get(schema) };
}

function inline(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const out = z.toJSONSchema(schema, { io, target: 'draft-2020-12' }) as JsonSchema;
  delete out.$schema;
  return out;
}

/**
 * Path and query parameters, one per property of the operation's schema. A query parameter is described by its
 * parsed value (an integer in range), as OpenAPI describes parameters; it is required when the input requires it.
 */
function parameters(op: Operation) {
  const out: JsonSchema[] = [];
  for (const [place, schema] of [
    ['path', op.params],
    ['query', op.query],
  ] as const) {
    if (!(schema instanceof z.ZodObject)) continue;
    const required = new Set((inline(schema, 'input').required as string[] | undefined) ?? []);
    for (const [name, property] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
      const { description, ...described } = inline(property, place === 'query' ? 'output' : 'input');
      out.push({
        name,
        in: place,
        required: place === 'path' || required.has(name),
        ...(description ? { description } : {}),
        schema: described,
      });
    }
  }
  return out;
}

function build() {
  const requests = components(requestComponents, 'input');
  const responses = components(responseComponents(), 'output');
  const named = (
    schema: z.ZodType,
    lookup: { nameOf(schema: z.ZodType): string | undefined },
    what: string,
  ) => {
    const name = lookup.nameOf(schema);
    if (name === undefined) throw new Error(`${what} is not a named schema of app/api/openapi.ts`);
    return ref(name);
  };
  const errorReply = (status: number, description: string, extra: Reply['headers'] = {}) => {
    const headers = { ...(status === 503 ? { 'Retry-After': RETRY_AFTER } : {}), ...headerDocs(extra) };
    return {
      description,
      ...(Object.keys(headers).length > 0 ? { headers } : {}),
      content: json(ref('Error')),
    };
  };

  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of apiOperations) {
    const where = `${op.method.toUpperCase()} ${op.path}`;
    const replies: Record<string, unknown> = {};
    for (const [status, reply] of Object.entries(op.responses)) {
      const content: Record<string, unknown> = {};
      if (reply.schema) {
        const schema =
          op === openApiOperation
            ? { type: 'object' }
            : named(reply.schema(), responses, `${where} ${status}`);
        Object.assign(content, json(schema));
      }
      if (reply.eventStream) content['text/event-stream'] = { schema: { type: 'string' } };
      const headers = headerDocs(reply.headers);
      replies[status] = {
        description: reply.description,
        ...(Object.keys(headers).length > 0 ? { headers } : {}),
        ...(reply.schema ? { content } : {}),
      };
    }
    for (const status of [...op.errors, ...ANY_ROUTE_ERRORS].sort((a, b) => a - b)) {
      const text = op.errorNotes?.[status] ?? ERROR_TEXT[status];
      if (text === undefined) throw new Error(`${where}: error status ${status} has no description`);
      replies[status] = errorReply(status, text, op.errorHeaders?.[status]);
    }
    const params = parameters(op);
    (paths[documentPath(op.path)] ??= {})[op.method] = {
      operationId: op.operationId,
      tags: [tagOf.get(op)],
      summary: op.summary,
      ...(op.security === 'apiKey' ? {} : { security: op.security === 'none' ? [] : [{ adminToken: [] }] }),
      ...(params.length > 0 ? { parameters: params } : {}),
      ...(op.body
        ? {
            requestBody: {
              required: op.body.required,
              content: json(named(op.body.schema, requests, `${where} body`)),
            },
          }
        : {}),
      responses: replies,
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'modelgate API',
      version: packageVersion(),
      description:
        'OpenAI-compatible gateway: models from the loaded catalog, chat completions and embeddings routed to the upstreams, ' +
        'chat storage per user, API keys. Mounted at /api/v1 and /v1. Errors are `{"error":{...}}` bodies; every ' +
        'response carries X-Request-Id. A known path asked with another method answers 405 with `Allow`.',
    },
    servers: [{ url: '/api/v1' }, { url: '/v1' }],
    security: [{ apiKey: [] }],
    paths,
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'An API key sk-<prefix>.<secret>.' },
        adminToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'ADMIN_TOKEN; admin routes answer 404 when unset.',
        },
      },
      schemas: { ...requests.schemas, ...responses.schemas },
    },
  };
}

export type OpenApiDocument = ReturnType<typeof build>;

let built: OpenApiDocument | undefined;

/** Built on first use (it is not needed to start serving), then kept: the schemas do not change. */
export function openApiDocument(): OpenApiDocument {
  built ??= build();
  return built;
}

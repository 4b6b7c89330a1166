import { packageVersion } from '../../core/package-root';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './schemas';

/**
 * The OpenAPI 3.1 description of the router, served at /api/v1/openapi.json. Hand-written beside the routes; a test
 * compares it with the routes the router really has and validates every response of the API tests against it.
 */
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ 'application/json': { schema } });
const nullable = (type: string, extra: Record<string, unknown> = {}) => ({ type: [type, 'null'], ...extra });
const timestamp = { type: 'string', format: 'date-time' };
const uuid = { type: 'string', format: 'uuid' };

const errorResponse = (description: string) => ({ description, content: json(ref('Error')) });
const errors = {
  400: errorResponse('Invalid request; `error.param` names the field.'),
  401: errorResponse('Missing, unknown or revoked API key.'),
  404: errorResponse('Not found, or owned by another user.'),
  413: errorResponse('Request body larger than BODY_LIMIT.'),
  415: errorResponse('Body in an unsupported encoding.'),
  503: errorResponse('Temporarily unavailable (e.g. database busy).'),
  500: errorResponse('Internal error; the X-Request-Id finds its log line.'),
};
/**
 * The listed error responses plus those any route can answer: 400/413/415 (a malformed path encoding or a body
 * that cannot be parsed, on any method) and 500.
 */
const pick = (...codes: (keyof typeof errors)[]) =>
  Object.fromEntries([...codes, ...([400, 413, 415, 500] as const)].map((c) => [c, errors[c]]));

const idParam = (description: string) => ({
  name: 'id',
  in: 'path',
  required: true,
  description,
  schema: { type: 'string' },
});
const pageParams = [
  {
    name: 'skip',
    in: 'query',
    required: false,
    description: 'How many items to skip.',
    schema: { type: 'integer', minimum: 0, default: 0 },
  },
  {
    name: 'limit',
    in: 'query',
    required: false,
    description: `Page size, at most ${MAX_PAGE_SIZE}.`,
    schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE },
  },
];
const list = (item: string) => ({
  type: 'object',
  required: ['object', 'data', 'skip', 'limit', 'total', 'has_more'],
  properties: {
    object: { const: 'list' },
    data: { type: 'array', items: ref(item) },
    skip: { type: 'integer', minimum: 0 },
    limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE },
    total: { type: 'integer', minimum: 0 },
    has_more: { type: 'boolean' },
  },
  additionalProperties: false,
});
const bodyOf = (schema: string, required = true) => ({ required, content: json(ref(schema)) });
const ok = (description: string, schema: string, status = '200') => ({
  [status]: { description, content: json(ref(schema)) },
});
const noContent = { 204: { description: 'Deleted.' } };
const user = [{ apiKey: [] }];
const admin = [{ adminToken: [] }];

const messageInput = {
  type: 'object',
  required: ['role', 'content'],
  properties: {
    role: { enum: ['system', 'user', 'assistant', 'tool'] },
    content: { type: 'string' },
    tokens: nullable('integer', { minimum: 0 }),
  },
  additionalProperties: false,
};

const apiKeyRequired = [
  'id',
  'object',
  'name',
  'prefix',
  'is_active',
  'created_at',
  'last_used_at',
  'revoked_at',
];
const apiKeyProperties = {
  id: uuid,
  object: { const: 'api_key' },
  name: { type: 'string' },
  prefix: { type: 'string', pattern: '^sk-[0-9a-f]{12}$' },
  is_active: { type: 'boolean' },
  created_at: timestamp,
  last_used_at: nullable('string', { format: 'date-time', description: 'Updated at most once a minute.' }),
  revoked_at: nullable('string', { format: 'date-time' }),
};

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'modelgate API',
    version: packageVersion(),
    description:
      'OpenAI-compatible gateway: models from the loaded catalog, chat completions forwarded to the upstream, ' +
      'chat storage per user, API keys. Mounted at /api/v1 and /v1. Errors are `{"error":{...}}` bodies; every ' +
      'response carries X-Request-Id.',
  },
  servers: [{ url: '/api/v1' }, { url: '/v1' }],
  security: user,
  paths: {
    '/openapi.json': {
      get: {
        operationId: 'getOpenApi',
        summary: 'This document.',
        security: [],
        responses: { 200: { description: 'OpenAPI 3.1 document.', content: json({ type: 'object' }) } },
      },
    },
    '/models': {
      get: {
        operationId: 'listModels',
        summary: 'Models of the loaded catalog.',
        responses: { ...ok('Models.', 'ModelList'), ...pick(401, 503) },
      },
    },
    '/models/{id}': {
      get: {
        operationId: 'getModel',
        summary: 'One model by name (URL-encoded; may contain spaces, slashes, colons) or upstream id.',
        parameters: [idParam('Model name or upstream id.')],
        responses: { ...ok('The model.', 'Model'), ...pick(401, 404, 503) },
      },
    },
    '/chat/completions': {
      post: {
        operationId: 'createChatCompletion',
        summary:
          'Forwarded to UPSTREAM_URL/v1/chat/completions; `stream: true` answers with server-sent events.',
        requestBody: bodyOf('ChatCompletionRequest'),
        responses: {
          200: {
            description: 'The upstream answer, passed through.',
            content: {
              'application/json': { schema: ref('ChatCompletion') },
              'text/event-stream': { schema: { type: 'string' } },
            },
          },
          ...pick(400, 401, 404, 413, 415),
          429: errorResponse('Rate limited by the upstream.'),
          502: errorResponse('Upstream unreachable or failed.'),
          503: errorResponse('No upstream configured, or the catalog is not loaded.'),
          504: errorResponse('Upstream did not answer within UPSTREAM_TIMEOUT.'),
        },
      },
    },
    '/auth/keys': {
      get: {
        operationId: 'listKeys',
        summary: "The caller's API keys (never their secrets).",
        parameters: pageParams,
        responses: { ...ok('Keys.', 'ApiKeyList'), ...pick(400, 401, 503) },
      },
      post: {
        operationId: 'createKey',
        summary: 'A new key for the caller; the full key is in this response only.',
        requestBody: bodyOf('CreateKey', false),
        responses: { ...ok('Created.', 'CreatedApiKey', '201'), ...pick(400, 401, 413, 415, 503) },
      },
    },
    '/auth/keys/{id}': {
      delete: {
        operationId: 'revokeKey',
        summary: "Revokes one of the caller's keys; every pod refuses it within a second.",
        parameters: [idParam('Key id.')],
        responses: { ...ok('The revoked key.', 'ApiKey'), ...pick(401, 404, 503) },
      },
    },
    '/admin/users': {
      get: {
        operationId: 'listUsers',
        summary: 'Users (admin).',
        security: admin,
        parameters: pageParams,
        responses: { ...ok('Users.', 'UserList'), ...pick(400, 401, 404, 503) },
      },
      post: {
        operationId: 'createUser',
        summary: 'Creates a user and their first key (admin).',
        security: admin,
        requestBody: bodyOf('CreateUser'),
        responses: {
          ...ok('Created.', 'CreatedUser', '201'),
          ...pick(400, 401, 404, 413, 415, 503),
          409: errorResponse('The name is taken.'),
        },
      },
    },
    '/chat-history/chats': {
      get: {
        operationId: 'listChats',
        summary: "The caller's chats, most recently updated first.",
        parameters: pageParams,
        responses: { ...ok('Chats.', 'ChatList'), ...pick(400, 401, 503) },
      },
      post: {
        operationId: 'createChat',
        summary: 'A new chat, optionally with its first messages (all or nothing).',
        requestBody: bodyOf('CreateChat', false),
        responses: { ...ok('Created.', 'Chat', '201'), ...pick(400, 401, 413, 415, 503) },
      },
    },
    '/chat-history/chats/{id}': {
      get: {
        operationId: 'getChat',
        parameters: [idParam('Chat id.')],
        responses: { ...ok('The chat.', 'Chat'), ...pick(401, 404, 503) },
      },
      put: {
        operationId: 'updateChat',
        parameters: [idParam('Chat id.')],
        requestBody: bodyOf('UpdateChat'),
        responses: { ...ok('The updated chat.', 'Chat'), ...pick(400, 401, 404, 413, 415, 503) },
      },
      delete: {
        operationId: 'deleteChat',
        summary: 'Deletes the chat and its messages.',
        parameters: [idParam('Chat id.')],
        responses: { ...noContent, ...pick(401, 404, 503) },
      },
    },
    '/chat-history/chats/{id}/messages': {
      get: {
        operationId: 'listMessages',
        summary: 'Messages in sequence order.',
        parameters: [idParam('Chat id.'), ...pageParams],
        responses: { ...ok('Messages.', 'MessageList'), ...pick(400, 401, 404, 503) },
      },
      post: {
        operationId: 'appendMessage',
        summary: "Appends a message; its sequence is the chat's last plus one.",
        parameters: [idParam('Chat id.')],
        requestBody: bodyOf('CreateMessage'),
        responses: { ...ok('Appended.', 'Message', '201'), ...pick(400, 401, 404, 413, 415, 503) },
      },
    },
    '/chat-history/messages/{id}': {
      delete: {
        operationId: 'deleteMessage',
        parameters: [idParam('Message id.')],
        responses: { ...noContent, ...pick(401, 404, 503) },
      },
    },
  },
  components: {
    securitySchemes: {
      apiKey: { type: 'http', scheme: 'bearer', description: 'An API key sk-<prefix>.<secret>.' },
      adminToken: {
        type: 'http',
        scheme: 'bearer',
        description: 'ADMIN_TOKEN; admin routes answer 404 when unset.',
      },
    },
    schemas: {
      Error: {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['message', 'type', 'code', 'param'],
            properties: {
              message: { type: 'string' },
              type: { type: 'string' },
              code: nullable('string'),
              param: nullable('string'),
              suggestions: { type: 'array', items: { type: 'string' }, maxItems: 3 },
            },
          },
        },
        additionalProperties: false,
      },
      Model: {
        type: 'object',
        required: ['id', 'object', 'created', 'owned_by', 'upstream_id', 'tags', 'type'],
        properties: {
          id: { type: 'string' },
          object: { const: 'model' },
          created: { type: 'integer' },
          owned_by: { type: 'string' },
          upstream_id: { type: 'string' },
          tags: { type: 'array', items: { type: 'string' } },
          type: { enum: ['LLM', 'EMBEDDING', 'UNKNOWN'] },
        },
        additionalProperties: false,
      },
      ModelList: {
        type: 'object',
        required: ['object', 'data'],
        properties: { object: { const: 'list' }, data: { type: 'array', items: ref('Model') } },
        additionalProperties: false,
      },
      ChatCompletionRequest: {
        type: 'object',
        required: ['messages'],
        properties: {
          model: nullable('string', {
            description: 'Model name or upstream id; DEFAULT_MODEL when omitted.',
          }),
          messages: {
            type: 'array',
            minItems: 1,
            items: { type: 'object', required: ['role'], properties: { role: { type: 'string' } } },
          },
          stream: nullable('boolean'),
        },
        additionalProperties: true,
      },
      ChatCompletion: {
        type: 'object',
        description: "The upstream's chat.completion object, unchanged.",
        additionalProperties: true,
      },
      ApiKey: {
        type: 'object',
        required: apiKeyRequired,
        properties: apiKeyProperties,
        additionalProperties: false,
      },
      CreatedApiKey: {
        type: 'object',
        description: 'A new key; `key` is shown in this response only.',
        required: [...apiKeyRequired, 'key'],
        properties: {
          ...apiKeyProperties,
          key: { type: 'string', pattern: '^sk-[0-9a-f]{12}\\.[A-Za-z0-9_-]{43}$' },
        },
        additionalProperties: false,
      },
      ApiKeyList: list('ApiKey'),
      CreateKey: {
        type: 'object',
        properties: { name: { type: 'string', maxLength: 200 } },
        additionalProperties: false,
      },
      User: {
        type: 'object',
        required: ['id', 'object', 'name', 'is_active', 'created_at'],
        properties: {
          id: uuid,
          object: { const: 'user' },
          name: { type: 'string' },
          is_active: { type: 'boolean' },
          created_at: timestamp,
        },
        additionalProperties: false,
      },
      UserList: list('User'),
      CreateUser: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 200 },
          key_name: { type: 'string', maxLength: 200 },
        },
        additionalProperties: false,
      },
      CreatedUser: {
        type: 'object',
        required: ['user', 'key'],
        properties: { user: ref('User'), key: ref('CreatedApiKey') },
        additionalProperties: false,
      },
      Chat: {
        type: 'object',
        required: ['id', 'object', 'title', 'model', 'created_at', 'updated_at'],
        properties: {
          id: uuid,
          object: { const: 'chat' },
          title: { type: 'string' },
          model: nullable('string'),
          created_at: timestamp,
          updated_at: timestamp,
        },
        additionalProperties: false,
      },
      ChatList: list('Chat'),
      CreateChat: {
        type: 'object',
        properties: {
          title: { type: 'string', maxLength: 500 },
          model: nullable('string', { maxLength: 512 }),
          messages: { type: 'array', maxItems: 100, items: messageInput },
        },
        additionalProperties: false,
      },
      UpdateChat: {
        type: 'object',
        properties: {
          title: { type: 'string', maxLength: 500 },
          model: nullable('string', { maxLength: 512 }),
        },
        additionalProperties: false,
      },
      Message: {
        type: 'object',
        required: ['id', 'object', 'chat_id', 'role', 'content', 'sequence', 'tokens', 'created_at'],
        properties: {
          id: uuid,
          object: { const: 'chat.message' },
          chat_id: uuid,
          role: { enum: ['system', 'user', 'assistant', 'tool'] },
          content: { type: 'string' },
          sequence: { type: 'integer', minimum: 1 },
          tokens: nullable('integer', { minimum: 0 }),
          created_at: timestamp,
        },
        additionalProperties: false,
      },
      MessageList: list('Message'),
      CreateMessage: messageInput,
    },
  },
} as const;

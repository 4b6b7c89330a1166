import type { RequestHandler, Router } from 'express';
import * as z from 'zod';
import { NotFoundError } from '../../http/errors';
import { lazily, mount, operation } from '../operations';
import { principal } from '../principal';
import { idParam, isUuid, iso, listBody, pageOf, pageQuery, safeText, timestamp } from '../schemas';
import { displayPrefix } from './key-format';
import type { ApiKeyRecord } from './key-store';
import type { KeyService } from './key-service';

/** What the key routes answer; the presenters below are typed by them. */
export const keySchemas = lazily(() => {
  const apiKey = z.strictObject({
    id: z.uuid(),
    object: z.literal('api_key'),
    name: z.string(),
    prefix: z.string().regex(/^sk-[0-9a-f]{12}$/),
    is_active: z.boolean(),
    created_at: timestamp(),
    last_used_at: timestamp().nullable().meta({ description: 'Updated at most once a minute.' }),
    revoked_at: timestamp().nullable(),
  });
  const createdApiKey = apiKey
    .extend({ key: z.string().regex(/^sk-[0-9a-f]{12}\.[A-Za-z0-9_-]{43}$/) })
    .meta({ description: 'A new key; `key` is shown in this response only.' });
  return { apiKey, createdApiKey, apiKeyList: pageOf(apiKey) };
});
type KeySchemas = ReturnType<typeof keySchemas>;
export type ApiKeyJson = z.output<KeySchemas['apiKey']>;
export type CreatedApiKeyJson = z.output<KeySchemas['createdApiKey']>;

export const createKeyBody = z.strictObject({ name: safeText(200).optional() });

export function keyJson(record: ApiKeyRecord): ApiKeyJson {
  return {
    id: record.id,
    object: 'api_key',
    name: record.name,
    prefix: displayPrefix(record.prefix),
    is_active: record.isActive && record.revokedAt === null,
    created_at: iso(record.createdAt),
    last_used_at: iso(record.lastUsedAt),
    revoked_at: iso(record.revokedAt),
  };
}

export const keyOperations = {
  listKeys: operation({
    operationId: 'listKeys',
    method: 'get',
    path: '/auth/keys',
    summary: "The caller's API keys (never their secrets).",
    security: 'apiKey',
    query: pageQuery,
    responses: { 200: { description: 'Keys.', schema: () => keySchemas().apiKeyList } },
    errors: [401, 503],
  }),
  createKey: operation({
    operationId: 'createKey',
    method: 'post',
    path: '/auth/keys',
    summary: 'A new key for the caller; the full key is in this response only. The body may be left out.',
    security: 'apiKey',
    body: { schema: createKeyBody, required: false },
    responses: { 201: { description: 'Created.', schema: () => keySchemas().createdApiKey } },
    errors: [401, 503],
  }),
  revokeKey: operation({
    operationId: 'revokeKey',
    method: 'delete',
    path: '/auth/keys/:id',
    summary: "Revokes one of the caller's keys; every pod refuses it within a second.",
    security: 'apiKey',
    params: idParam('Key id.'),
    responses: { 200: { description: 'The revoked key.', schema: () => keySchemas().apiKey } },
    errors: [401, 404, 503],
  }),
};

/** GET|POST /auth/keys, DELETE /auth/keys/{id}: a user's own keys. */
export function keyRoutes(router: Router, keys: KeyService, auth: RequestHandler): void {
  mount(router, keyOperations.listKeys, [auth], async ({ query }, _req, res) => {
    const result = await keys.list(principal(res).userId, query);
    res.json(listBody(result.items.map(keyJson), result.total, query));
  });

  mount(router, keyOperations.createKey, [auth], async ({ body }, _req, res) => {
    const created = await keys.create(principal(res).userId, body.name ?? '');
    const json: CreatedApiKeyJson = { ...keyJson(created.record), key: created.key };
    res.status(201).json(json);
  });

  mount(router, keyOperations.revokeKey, [auth], async ({ params }, _req, res) => {
    if (!isUuid(params.id))
      throw new NotFoundError(`No API key ${params.id} among your keys.`, { code: 'key_not_found' });
    res.json(keyJson(await keys.revoke(principal(res).userId, params.id)));
  });
}

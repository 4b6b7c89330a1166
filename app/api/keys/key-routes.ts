import { Router, type RequestHandler } from 'express';
import * as z from 'zod';
import { isUuid, iso, listBody, pageQuery, safeText } from '../schemas';
import { parseInput } from '../validation';
import { principal } from '../principal';
import { NotFoundError } from '../errors';
import { displayPrefix } from './key-format';
import type { ApiKeyRecord } from './key-store';
import type { KeyService } from './key-service';

export function keyJson(record: ApiKeyRecord) {
  return {
    id: record.id,
    object: 'api_key' as const,
    name: record.name,
    prefix: displayPrefix(record.prefix),
    is_active: record.isActive && record.revokedAt === null,
    created_at: iso(record.createdAt),
    last_used_at: iso(record.lastUsedAt),
    revoked_at: iso(record.revokedAt),
  };
}

const createKeyBody = z.strictObject({ name: safeText(200).optional() });

/** GET|POST /auth/keys, DELETE /auth/keys/{id}: a user's own keys. */
export function keyRoutes(keys: KeyService, auth: RequestHandler): Router {
  const router = Router();

  router.get('/auth/keys', auth, async (req, res) => {
    const page = parseInput(pageQuery, req.query, 'query');
    const result = await keys.list(principal(res).userId, page);
    res.json(listBody(result.items.map(keyJson), result.total, page));
  });

  router.post('/auth/keys', auth, async (req, res) => {
    const body = parseInput(createKeyBody, req.body, 'body');
    const created = await keys.create(principal(res).userId, body.name ?? '');
    res.status(201).json({ ...keyJson(created.record), key: created.key });
  });

  router.delete('/auth/keys/:id', auth, async (req, res) => {
    const id = req.params.id;
    if (!isUuid(id)) throw new NotFoundError(`No API key ${id} among your keys.`, { code: 'key_not_found' });
    const record = await keys.revoke(principal(res).userId, id);
    res.json(keyJson(record));
  });

  return router;
}

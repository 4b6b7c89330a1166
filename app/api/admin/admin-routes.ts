import { Router, type RequestHandler } from 'express';
import * as z from 'zod';
import { NotFoundError, UnauthorizedError } from '../errors';
import { bearerToken, tokensEqual } from '../keys/key-format';
import { keyJson } from '../keys/key-routes';
import { iso, listBody, pageQuery, safeText } from '../schemas';
import { parseInput } from '../validation';
import type { AdminService } from './admin-service';
import type { UserRecord } from './user-store';

export function userJson(user: UserRecord) {
  return {
    id: user.id,
    object: 'user' as const,
    name: user.name,
    is_active: user.isActive,
    created_at: iso(user.createdAt),
  };
}

/** Bearer ADMIN_TOKEN, compared in constant time. Without a token configured the admin routes do not exist. */
export function requireAdmin(adminToken: string | undefined): RequestHandler {
  return (req, _res, next) => {
    if (adminToken === undefined) {
      throw new NotFoundError(
        `Unknown route ${req.method} ${req.path}. Admin routes are off (ADMIN_TOKEN unset).`,
        {
          code: 'route_not_found',
        },
      );
    }
    const token = bearerToken(req.headers.authorization);
    if (token === undefined || !tokensEqual(token, adminToken)) {
      throw new UnauthorizedError('Admin routes need "Authorization: Bearer <ADMIN_TOKEN>".', {
        code: 'invalid_admin_token',
      });
    }
    next();
  };
}

const createUserBody = z.strictObject({
  name: safeText(200).pipe(z.string().trim().min(1, { message: 'must not be empty' })),
  key_name: safeText(200).optional(),
});

/** POST|GET /admin/users: create users (with their first key) and list them. */
export function adminRoutes(admin: AdminService, adminToken: string | undefined): Router {
  const router = Router();
  const auth = requireAdmin(adminToken);

  router.post('/admin/users', auth, async (req, res) => {
    const body = parseInput(createUserBody, req.body, 'body');
    const created = await admin.createUser(body.name, body.key_name ?? 'first key');
    res
      .status(201)
      .json({ user: userJson(created.user), key: { ...keyJson(created.key), key: created.secretKey } });
  });

  router.get('/admin/users', auth, async (req, res) => {
    const page = parseInput(pageQuery, req.query, 'query');
    const result = await admin.list(page);
    res.json(listBody(result.items.map(userJson), result.total, page));
  });

  return router;
}

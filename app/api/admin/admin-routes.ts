import type { RequestHandler, Router } from 'express';
import * as z from 'zod';
import { NotFoundError, UnauthorizedError } from '../../http/errors';
import { bearerToken, tokensEqual } from '../keys/key-format';
import { keyJson, keySchemas } from '../keys/key-routes';
import { lazily, mount, operation } from '../operations';
import { iso, listBody, pageOf, pageQuery, safeText, timestamp } from '../schemas';
import type { AdminService } from './admin-service';
import type { UserRecord } from './user-store';

/** What the admin routes answer; the presenters below are typed by them. */
export const adminSchemas = lazily(() => {
  const user = z.strictObject({
    id: z.uuid(),
    object: z.literal('user'),
    name: z.string(),
    is_active: z.boolean(),
    created_at: timestamp(),
  });
  const createdUser = z.strictObject({ user, key: keySchemas().createdApiKey });
  return { user, userList: pageOf(user), createdUser };
});
type AdminSchemas = ReturnType<typeof adminSchemas>;
export type UserJson = z.output<AdminSchemas['user']>;
export type CreatedUserJson = z.output<AdminSchemas['createdUser']>;

export const createUserBody = z.strictObject({
  // Checked before trimming, so the document states every rule: at most 200 characters, not only spaces.
  name: safeText(200)
    .regex(/\S/, { message: 'must not be empty or only spaces' })
    .trim()
    .meta({ description: 'Unique; surrounding spaces are dropped.' }),
  key_name: safeText(200).optional().meta({ description: 'Name of the first key; "first key" by default.' }),
});

export function userJson(user: UserRecord): UserJson {
  return {
    id: user.id,
    object: 'user',
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
        `No route for ${req.method} ${req.originalUrl.split('?')[0]}: admin routes are off (ADMIN_TOKEN unset).`,
        { code: 'route_not_found' },
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

export const adminOperations = {
  listUsers: operation({
    operationId: 'listUsers',
    method: 'get',
    path: '/admin/users',
    summary: 'Users (admin).',
    security: 'adminToken',
    query: pageQuery,
    responses: { 200: { description: 'Users.', schema: () => adminSchemas().userList } },
    errors: [401, 404, 503],
  }),
  createUser: operation({
    operationId: 'createUser',
    method: 'post',
    path: '/admin/users',
    summary: 'Creates a user and their first key (admin).',
    security: 'adminToken',
    body: { schema: createUserBody, required: true },
    responses: { 201: { description: 'Created.', schema: () => adminSchemas().createdUser } },
    errors: [401, 404, 409, 503],
    errorNotes: { 409: 'The name is taken.' },
  }),
};

/** POST|GET /admin/users: create users (with their first key) and list them. */
export function adminRoutes(router: Router, admin: AdminService, adminToken: string | undefined): void {
  const auth = requireAdmin(adminToken);

  mount(router, adminOperations.createUser, [auth], async ({ body }, _req, res) => {
    const created = await admin.createUser(body.name, body.key_name ?? 'first key');
    const json: CreatedUserJson = {
      user: userJson(created.user),
      key: { ...keyJson(created.key), key: created.secretKey },
    };
    res.status(201).json(json);
  });

  mount(router, adminOperations.listUsers, [auth], async ({ query }, _req, res) => {
    const result = await admin.list(query);
    res.json(listBody(result.items.map(userJson), result.total, query));
  });
}

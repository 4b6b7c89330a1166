import type { RequestHandler, Router } from 'express';
import * as z from 'zod';
import { NotFoundError } from '../../http/errors';
import { requireAdmin } from '../admin/admin-routes';
import { lazily, mount, operation } from '../operations';
import { principal } from '../principal';
import { idParam, isUuid, iso, safeText, timestamp } from '../schemas';
import type { KeyLimitsView, LimitsService } from './limits-service';
import { byColumn, type LimitPolicy } from './policy';

const count = (max: number, description: string) =>
  z.int().min(0).max(max).nullable().optional().meta({ description });

/**
 * A policy as PUT replaces it: every field optional, and a field left out or null is "not set" (a key inherits
 * its user's value; on neither, no limit).
 */
export const limitPolicyBody = z.strictObject({
  allowed_models: z
    .array(safeText(512).min(1, { message: 'must not be empty' }))
    .max(1_000)
    .nullable()
    .optional()
    .meta({
      description:
        'Public model names or globs (`*` any run of characters, `?` one character); an empty list allows none.',
    }),
  requests_per_minute: count(2_147_483_647, 'Requests per minute, across every replica.'),
  tokens_per_minute: count(
    Number.MAX_SAFE_INTEGER,
    'Prompt and completion tokens per minute; checked on an estimate before forwarding.',
  ),
  monthly_token_budget: count(
    Number.MAX_SAFE_INTEGER,
    'Prompt and completion tokens per calendar month (UTC).',
  ),
});

/** What the limit routes answer; the presenters below are typed by them. */
export const limitSchemas = lazily(() => {
  const value = (schema: z.ZodType) => schema.nullable().meta({ description: 'null: not set here.' });
  const policy = {
    allowed_models: value(z.array(z.string())),
    requests_per_minute: value(z.int()),
    tokens_per_minute: value(z.int()),
    monthly_token_budget: value(z.int()),
  };
  const source = z.enum(['key', 'user', 'none']);
  const userLimits = z.strictObject({ object: z.literal('user_limits'), user_id: z.uuid(), ...policy });
  const keyLimits = z.strictObject({
    object: z.literal('key_limits'),
    key_id: z.uuid(),
    user_id: z.uuid(),
    key: z.strictObject(policy).meta({ description: 'Set on the key.' }),
    user: z.strictObject(policy).meta({ description: "The user's defaults." }),
    effective: z
      .strictObject({
        ...policy,
        sources: z.strictObject({
          allowed_models: source,
          requests_per_minute: source,
          tokens_per_minute: source,
          monthly_token_budget: source,
        }),
      })
      .meta({ description: 'What applies: the key value, else the user default; null: no limit.' }),
    windows: z
      .array(
        z.strictObject({
          limit: z.enum(['requests_per_minute', 'tokens_per_minute', 'monthly_token_budget']),
          max: z.int(),
          used: z.int().meta({
            description:
              'Handed out in the current window across every replica, including permits replicas hold unspent.',
          }),
          remaining: z.int(),
          resets_at: timestamp()
            .nullable()
            .meta({ description: 'null: no per-minute window running (the next request starts one).' }),
        }),
      )
      .meta({ description: 'The current window of each limit that applies.' }),
  });
  return { userLimits, keyLimits };
});
type LimitSchemas = ReturnType<typeof limitSchemas>;
export type UserLimitsJson = z.output<LimitSchemas['userLimits']>;
export type KeyLimitsJson = z.output<LimitSchemas['keyLimits']>;

export function policyFromBody(body: z.output<typeof limitPolicyBody>): LimitPolicy {
  return {
    allowedModels: body.allowed_models ?? null,
    requestsPerMinute: body.requests_per_minute ?? null,
    tokensPerMinute: body.tokens_per_minute ?? null,
    monthlyTokenBudget: body.monthly_token_budget ?? null,
  };
}

export function userLimitsJson(userId: string, policy: LimitPolicy): UserLimitsJson {
  return { object: 'user_limits', user_id: userId, ...byColumn(policy) };
}

const WINDOW_NAMES = {
  requests: 'requests_per_minute',
  tokens: 'tokens_per_minute',
  budget: 'monthly_token_budget',
} as const;

export function keyLimitsJson(view: KeyLimitsView): KeyLimitsJson {
  const { effective } = view;
  return {
    object: 'key_limits',
    key_id: view.keyId,
    user_id: view.userId,
    key: byColumn(view.key),
    user: byColumn(view.user),
    effective: {
      ...byColumn(effective),
      sources: byColumn(effective.sources),
    },
    windows: view.windows.map((w) => ({
      limit: WINDOW_NAMES[w.dimension],
      max: w.limit,
      used: w.used,
      remaining: w.remaining,
      resets_at: iso(w.resetsAt),
    })),
  };
}

const userLimitsReply = (description: string) => ({
  200: { description, schema: () => limitSchemas().userLimits },
});
const keyLimitsReply = (description: string) => ({
  200: { description, schema: () => limitSchemas().keyLimits },
});

/** What the admin operations share: the admin token, the user or key id in the path, a 404 for an unknown one. */
const byAdmin = (idDescription: string) =>
  ({ security: 'adminToken', params: idParam(idDescription), errors: [401, 404, 503] }) as const;
/** A PUT replaces the policy as a whole. */
const replacesPolicy = { schema: limitPolicyBody, required: true };

export const limitOperations = {
  getUserLimits: operation({
    operationId: 'getUserLimits',
    method: 'get',
    path: '/admin/users/:id/limits',
    summary: "A user's limit defaults, which its keys inherit where they set nothing (admin).",
    ...byAdmin('User id.'),
    responses: userLimitsReply("The user's defaults."),
  }),
  setUserLimits: operation({
    operationId: 'setUserLimits',
    method: 'put',
    path: '/admin/users/:id/limits',
    summary: "Replaces a user's limit defaults as a whole; a field left out or null is not set (admin).",
    ...byAdmin('User id.'),
    body: replacesPolicy,
    responses: userLimitsReply('The defaults as saved.'),
  }),
  getKeyLimits: operation({
    operationId: 'getKeyLimits',
    method: 'get',
    path: '/admin/keys/:id/limits',
    summary: "A key's limits: its own, its user's, what applies and the current windows (admin).",
    ...byAdmin('Key id.'),
    responses: keyLimitsReply("The key's limits."),
  }),
  setKeyLimits: operation({
    operationId: 'setKeyLimits',
    method: 'put',
    path: '/admin/keys/:id/limits',
    summary:
      "Replaces a key's own limits as a whole; a field left out or null inherits the user's default (admin). Every pod applies it within LIMITS_POLICY_CACHE_TTL.",
    ...byAdmin('Key id.'),
    body: replacesPolicy,
    responses: keyLimitsReply("The key's limits as saved."),
  }),
  getOwnLimits: operation({
    operationId: 'getOwnLimits',
    method: 'get',
    path: '/limits',
    summary: "The calling key's limits and current windows.",
    security: 'apiKey',
    responses: keyLimitsReply("The key's limits."),
    errors: [401, 503],
  }),
  getOwnKeyLimits: operation({
    operationId: 'getOwnKeyLimits',
    method: 'get',
    path: '/auth/keys/:id/limits',
    summary: "The limits of one of the caller's keys.",
    security: 'apiKey',
    params: idParam('Key id.'),
    responses: keyLimitsReply("The key's limits."),
    errors: [401, 404, 503],
  }),
};

function noUser(id: string): NotFoundError {
  return new NotFoundError(`No user ${id}.`, { code: 'user_not_found' });
}

function noKey(id: string, own: boolean): NotFoundError {
  return new NotFoundError(own ? `No API key ${id} among your keys.` : `No API key ${id}.`, {
    code: 'key_not_found',
  });
}

/**
 * GET|PUT /admin/users/{id}/limits and /admin/keys/{id}/limits (admin); GET /limits (the calling key's) and
 * GET /auth/keys/{id}/limits (one of the caller's keys; another user's key is a 404).
 */
export function limitRoutes(
  router: Router,
  limits: LimitsService,
  auth: RequestHandler,
  adminToken: string | undefined,
): void {
  const admin = requireAdmin(adminToken);

  mount(router, limitOperations.getUserLimits, [admin], async ({ params }, _req, res) => {
    const policy = isUuid(params.id) ? await limits.getUserLimits(params.id) : undefined;
    if (!policy) throw noUser(params.id);
    res.json(userLimitsJson(params.id, policy));
  });

  mount(router, limitOperations.setUserLimits, [admin], async ({ params, body }, _req, res) => {
    const saved = isUuid(params.id) ? await limits.setUserLimits(params.id, policyFromBody(body)) : undefined;
    if (!saved) throw noUser(params.id);
    res.json(userLimitsJson(params.id, saved));
  });

  mount(router, limitOperations.getKeyLimits, [admin], async ({ params }, _req, res) => {
    const view = isUuid(params.id) ? await limits.keyLimits(params.id) : undefined;
    if (!view) throw noKey(params.id, false);
    res.json(keyLimitsJson(view));
  });

  mount(router, limitOperations.setKeyLimits, [admin], async ({ params, body }, _req, res) => {
    const saved = isUuid(params.id) ? await limits.setKeyLimits(params.id, policyFromBody(body)) : undefined;
    const view = saved ? await limits.keyLimits(params.id) : undefined;
    if (!view) throw noKey(params.id, false);
    res.json(keyLimitsJson(view));
  });

  mount(router, limitOperations.getOwnLimits, [auth], async (_input, _req, res) => {
    const caller = principal(res);
    const view = await limits.keyLimits(caller.keyId);
    if (!view) throw noKey(caller.keyId, true);
    res.json(keyLimitsJson(view));
  });

  mount(router, limitOperations.getOwnKeyLimits, [auth], async ({ params }, _req, res) => {
    const view = isUuid(params.id) ? await limits.keyLimits(params.id) : undefined;
    if (!view || view.userId !== principal(res).userId) throw noKey(params.id, true);
    res.json(keyLimitsJson(view));
  });
}

import type { RequestHandler, Router } from 'express';
import * as z from 'zod';
import { lazily, mount, operation } from '../operations';
import { principal } from '../principal';
import { listBody, pageOf, pageQuery, timestamp } from '../schemas';
import type { DailyUsage, GroupedUsage, UsageTotals } from './usage-store';
import { DEFAULT_RANGE_DAYS, type UsageService } from './usage-service';

const day = (description: string) =>
  z.iso
    .date()
    .meta({ description: `${description} (YYYY-MM-DD, UTC; included).` })
    .optional();

const range = {
  from: day(`First day; ${DEFAULT_RANGE_DAYS} days before \`to\` by default; after \`to\`: an empty range`),
  to: day('Last day; today by default'),
  model: z.string().min(1).max(512).meta({ description: 'Only this public model name.' }).optional(),
  key_id: z.uuid().meta({ description: 'Only this API key.' }).optional(),
  user_id: z.uuid().meta({ description: 'Only this user.' }).optional(),
};

export const ownUsageQuery = z.strictObject(range);
export const adminUsageQuery = z.strictObject({ ...pageQuery.shape, ...range });

/** What the usage routes answer. */
export const usageSchemas = lazily(() => {
  const totals = {
    requests: z.int().min(0),
    failed_requests: z
      .int()
      .min(0)
      .meta({ description: 'Answered with a status of 400 or more (499: the client left).' }),
    estimated_requests: z
      .int()
      .min(0)
      .meta({ description: 'Counted by the gateway with a tokenizer: the upstream reported no usage.' }),
    prompt_tokens: z.int().min(0),
    completion_tokens: z.int().min(0),
    total_tokens: z.int().min(0),
  };
  const dailyUsage = z.strictObject({
    object: z.literal('usage.daily'),
    date: z.iso.date(),
    model: z.string(),
    ...totals,
  });
  const groupedUsage = z.strictObject({
    object: z.literal('usage.group'),
    user_id: z.uuid(),
    key_id: z.uuid(),
    model: z.string(),
    ...totals,
  });
  const period = {
    from: timestamp(),
    to: timestamp().meta({ description: 'Excluded: the day after the last day.' }),
  };
  return {
    ownUsage: z.strictObject({ object: z.literal('list'), data: z.array(dailyUsage), ...period }),
    adminUsage: pageOf(groupedUsage).extend(period),
  };
});
type UsageSchemas = ReturnType<typeof usageSchemas>;
type OwnUsageJson = z.output<UsageSchemas['ownUsage']>;
type AdminUsageJson = z.output<UsageSchemas['adminUsage']>;

function totalsJson(t: UsageTotals) {
  return {
    requests: t.requests,
    failed_requests: t.failedRequests,
    estimated_requests: t.estimatedRequests,
    prompt_tokens: t.promptTokens,
    completion_tokens: t.completionTokens,
    total_tokens: t.promptTokens + t.completionTokens,
  };
}

const dailyJson = (d: DailyUsage) => ({
  object: 'usage.daily' as const,
  date: d.date,
  model: d.model,
  ...totalsJson(d),
});
const groupJson = (g: GroupedUsage) => ({
  object: 'usage.group' as const,
  user_id: g.userId,
  key_id: g.keyId,
  model: g.model,
  ...totalsJson(g),
});

export const usageOperations = {
  getUsage: operation({
    operationId: 'getUsage',
    method: 'get',
    path: '/usage',
    summary:
      "The caller's usage per UTC day and model, from the usage ledger (records are written within USAGE_FLUSH_INTERVAL). Another user's key or user id is a 404.",
    security: 'apiKey',
    query: ownUsageQuery,
    responses: { 200: { description: 'Usage per day and model.', schema: () => usageSchemas().ownUsage } },
    errors: [401, 404, 503],
  }),
};

export const adminUsageOperations = {
  listUsage: operation({
    operationId: 'listUsage',
    method: 'get',
    path: '/admin/usage',
    summary: 'Usage per user, key and model over a range of UTC days, from the usage ledger.',
    security: 'adminToken',
    query: adminUsageQuery,
    responses: {
      200: { description: 'Usage per user, key and model.', schema: () => usageSchemas().adminUsage },
    },
    errors: [401, 404, 503],
  }),
};

const filters = (q: { from?: string; to?: string; model?: string; key_id?: string; user_id?: string }) => ({
  from: q.from,
  to: q.to,
  model: q.model,
  keyId: q.key_id,
  userId: q.user_id,
});

/** GET /usage: the caller's own usage. */
export function usageRoutes(router: Router, usage: UsageService, auth: RequestHandler): void {
  mount(router, usageOperations.getUsage, [auth], async ({ query }, _req, res) => {
    const result = await usage.own(principal(res).userId, filters(query));
    const json: OwnUsageJson = {
      object: 'list',
      data: result.days.map(dailyJson),
      from: result.from.toISOString(),
      to: result.to.toISOString(),
    };
    res.json(json);
  });
}

/** GET /admin/usage: anyone's usage, for the admin token. */
export function adminUsageRoutes(router: Router, usage: UsageService, auth: RequestHandler): void {
  mount(router, adminUsageOperations.listUsage, [auth], async ({ query }, _req, res) => {
    const result = await usage.all(filters(query), query);
    const json: AdminUsageJson = {
      ...listBody(result.groups.items.map(groupJson), result.groups.total, query),
      from: result.from.toISOString(),
      to: result.to.toISOString(),
    };
    res.json(json);
  });
}

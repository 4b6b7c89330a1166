import { modelMatcher } from './model-access';

/**
 * What an administrator sets on a user (the defaults of its keys) or on one key. Null means "not set here": a key
 * inherits its user's value, and a value set on neither is no limit (every model, for `allowedModels`).
 */
export interface LimitPolicy {
  /** Public model names or globs (`*` any run of characters, `?` one); an empty list allows no model. */
  allowedModels: string[] | null;
  requestsPerMinute: number | null;
  tokensPerMinute: number | null;
  /** Tokens (prompt and completion) per calendar month, UTC. */
  monthlyTokenBudget: number | null;
}

export const UNSET_POLICY: LimitPolicy = Object.freeze({
  allowedModels: null,
  requestsPerMinute: null,
  tokensPerMinute: null,
  monthlyTokenBudget: null,
});

export const policyFields = [
  'allowedModels',
  'requestsPerMinute',
  'tokensPerMinute',
  'monthlyTokenBudget',
] as const satisfies readonly (keyof LimitPolicy)[];

/** Each policy field as the API's JSON and the tables spell it. */
export const policyColumns = {
  allowedModels: 'allowed_models',
  requestsPerMinute: 'requests_per_minute',
  tokensPerMinute: 'tokens_per_minute',
  monthlyTokenBudget: 'monthly_token_budget',
} as const satisfies Record<keyof LimitPolicy, string>;

type PolicyField = keyof LimitPolicy;
/** One value per policy field (a policy, the sources of an effective one), named by column. */
export type ByColumn<T extends Record<PolicyField, unknown>> = {
  -readonly [F in PolicyField as (typeof policyColumns)[F]]: T[F];
};

/** The policy fields of `values` under their column names, in the order of `policyFields`; nothing else. */
export function byColumn<T extends Record<PolicyField, unknown>>(values: T): ByColumn<T> {
  const named: Record<string, unknown> = {};
  for (const field of policyFields) named[policyColumns[field]] = values[field];
  return named as ByColumn<T>;
}

/** Where an effective value came from. */
export type PolicySource = 'key' | 'user' | 'none';

/** A key's policy once its user's defaults are filled in; what the hot path reads. */
export interface EffectivePolicy extends LimitPolicy {
  keyId: string;
  userId: string;
  sources: Record<keyof LimitPolicy, PolicySource>;
  /** Whether the key may use a model (by its public name). */
  allows(model: string): boolean;
  /** True when nothing limits the key: admission has nothing to count. */
  unlimited: boolean;
}

export function effectivePolicy(
  ids: { keyId: string; userId: string },
  user: LimitPolicy | null,
  key: LimitPolicy | null,
): EffectivePolicy {
  const merged = { ...UNSET_POLICY } as LimitPolicy;
  const sources = {} as Record<keyof LimitPolicy, PolicySource>;
  for (const field of policyFields) {
    const fromKey = key?.[field] ?? null;
    const fromUser = user?.[field] ?? null;
    (merged as unknown as Record<string, unknown>)[field] = fromKey ?? fromUser;
    sources[field] = fromKey !== null ? 'key' : fromUser !== null ? 'user' : 'none';
  }
  const allows = modelMatcher(merged.allowedModels);
  return {
    ...merged,
    ...ids,
    sources,
    allows,
    unlimited:
      merged.requestsPerMinute === null &&
      merged.tokensPerMinute === null &&
      merged.monthlyTokenBudget === null,
  };
}

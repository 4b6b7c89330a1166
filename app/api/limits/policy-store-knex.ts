import type { Knex } from 'knex';
import { byColumn, policyColumns, UNSET_POLICY, type LimitPolicy } from './policy';
import type { KeyPolicies, PolicyStore } from './policy-store';

interface PolicyRow {
  allowed_models: string[] | null;
  requests_per_minute: number | null;
  /** bigint columns arrive as strings. */
  tokens_per_minute: string | number | null;
  monthly_token_budget: string | number | null;
}

const COLUMNS = Object.values(policyColumns);

const numberOrNull = (value: string | number | null) => (value === null ? null : Number(value));

function toPolicy(row: PolicyRow | undefined): LimitPolicy | null {
  if (!row) return null;
  return {
    allowedModels: row.allowed_models,
    requestsPerMinute: row.requests_per_minute,
    tokensPerMinute: numberOrNull(row.tokens_per_minute),
    monthlyTokenBudget: numberOrNull(row.monthly_token_budget),
  };
}

/** Prefixes the policy columns of one table in a join (`u.allowed_models AS u_allowed_models`). */
const aliased = (alias: string) => COLUMNS.map((column) => `${alias}.${column} as ${alias}_${column}`);

function unalias(row: Record<string, unknown>, alias: string): PolicyRow | undefined {
  const picked = Object.fromEntries(COLUMNS.map((column) => [column, row[`${alias}_${column}`]]));
  return row[`${alias}_present`] ? (picked as unknown as PolicyRow) : undefined;
}

export class KnexPolicyStore implements PolicyStore {
  constructor(private readonly db: Knex) {}

  async findForKey(keyId: string): Promise<KeyPolicies | undefined> {
    const row = await this.db('api_keys as k')
      .leftJoin('key_limits as kl', 'kl.key_id', 'k.id')
      .leftJoin('user_limits as ul', 'ul.user_id', 'k.user_id')
      .where('k.id', keyId)
      .first<Record<string, unknown> | undefined>(
        'k.id',
        'k.user_id',
        this.db.raw('kl.key_id IS NOT NULL AS kl_present'),
        this.db.raw('ul.user_id IS NOT NULL AS ul_present'),
        ...aliased('kl'),
        ...aliased('ul'),
      );
    if (!row) return undefined;
    return {
      keyId: row.id as string,
      userId: row.user_id as string,
      key: toPolicy(unalias(row, 'kl')),
      user: toPolicy(unalias(row, 'ul')),
    };
  }

  async getUser(userId: string): Promise<LimitPolicy | undefined> {
    const row = await this.db('users as u')
      .leftJoin('user_limits as ul', 'ul.user_id', 'u.id')
      .where('u.id', userId)
      .first<Record<string, unknown> | undefined>(
        this.db.raw('ul.user_id IS NOT NULL AS ul_present'),
        ...aliased('ul'),
      );
    if (!row) return undefined;
    return toPolicy(unalias(row, 'ul')) ?? { ...UNSET_POLICY };
  }

  async setUser(userId: string, policy: LimitPolicy): Promise<LimitPolicy | undefined> {
    const exists = await this.db('users').where('id', userId).first('id');
    if (!exists) return undefined;
    const [row] = await this.db('user_limits')
      .insert({ user_id: userId, ...byColumn(policy), updated_at: this.db.fn.now() })
      .onConflict('user_id')
      .merge()
      .returning(COLUMNS);
    return toPolicy(row as PolicyRow)!;
  }

  async getKey(keyId: string): Promise<{ userId: string; policy: LimitPolicy } | undefined> {
    const row = await this.db('api_keys as k')
      .leftJoin('key_limits as kl', 'kl.key_id', 'k.id')
      .where('k.id', keyId)
      .first<Record<string, unknown> | undefined>(
        'k.user_id',
        this.db.raw('kl.key_id IS NOT NULL AS kl_present'),
        ...aliased('kl'),
      );
    if (!row) return undefined;
    return { userId: row.user_id as string, policy: toPolicy(unalias(row, 'kl')) ?? { ...UNSET_POLICY } };
  }

  async setKey(
    keyId: string,
    policy: LimitPolicy,
  ): Promise<{ userId: string; policy: LimitPolicy } | undefined> {
    const key = await this.db('api_keys')
      .where('id', keyId)
      .first<{ user_id: string } | undefined>('user_id');
    if (!key) return undefined;
    const [row] = await this.db('key_limits')
      .insert({ key_id: keyId, ...byColumn(policy), updated_at: this.db.fn.now() })
      .onConflict('key_id')
      .merge()
      .returning(COLUMNS);
    return { userId: key.user_id, policy: toPolicy(row as PolicyRow)! };
  }
}

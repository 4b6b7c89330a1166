import type { Knex } from 'knex';
import type { Page, PageResult } from '../schemas';
import { recordOf } from '../row-record';
import type { DailyUsage, GroupedUsage, LedgerEntry, UsageFilter, UsageStore } from './usage-store';

/**
 * One INSERT per batch whatever its size: each column goes as one array parameter and `unnest` turns them back
 * into rows, so a batch of 1,000 is 15 parameters (a VALUES list would be 15,000, and PostgreSQL stops at 65,535).
 */
const INSERT = `
INSERT INTO usage_records (id, request_id, key_id, user_id, kind, model, upstream, upstream_model, status,
  prompt_tokens, completion_tokens, estimated, duration_ms, ttft_ms, created_at)
SELECT * FROM unnest(?::uuid[], ?::text[], ?::uuid[], ?::uuid[], ?::text[], ?::text[], ?::text[], ?::text[],
  ?::smallint[], ?::integer[], ?::integer[], ?::boolean[], ?::integer[], ?::integer[], ?::timestamptz[])
ON CONFLICT (id) DO NOTHING`;

const TOTALS = `count(*)::int AS requests,
  (count(*) FILTER (WHERE status >= 400))::int AS failed_requests,
  (count(*) FILTER (WHERE estimated))::int AS estimated_requests,
  coalesce(sum(prompt_tokens), 0)::bigint AS prompt_tokens,
  coalesce(sum(completion_tokens), 0)::bigint AS completion_tokens`;

interface TotalsRow {
  requests: number;
  failed_requests: number;
  estimated_requests: number;
  prompt_tokens: string;
  completion_tokens: string;
}

/** A grouped row as its record: the token sums are bigint, which node-postgres hands over as strings. */
function withTotals<Row extends TotalsRow>(row: Row) {
  return {
    ...recordOf(row),
    promptTokens: Number(row.prompt_tokens),
    completionTokens: Number(row.completion_tokens),
  };
}

/** Whole numbers the columns hold: what an upstream reported is clamped, never refused mid-batch. */
function int4(value: number): number {
  if (!Number.isFinite(value) || value < 0) return 0;
  return Math.min(Math.round(value), 2_147_483_647);
}

export class KnexUsageStore implements UsageStore {
  constructor(private readonly db: Knex) {}

  async insert(entries: readonly LedgerEntry[]): Promise<number> {
    if (entries.length === 0) return 0;
    const column = <T>(pick: (entry: LedgerEntry) => T): T[] => entries.map(pick);
    const columns = [
      column((e) => e.id),
      column((e) => e.requestId),
      column((e) => e.keyId),
      column((e) => e.userId),
      column((e) => e.kind),
      column((e) => e.model),
      column((e) => e.upstream),
      column((e) => e.upstreamModel),
      column((e) => Math.min(Math.max(Math.round(e.status), 0), 999)),
      column((e) => int4(e.promptTokens)),
      column((e) => int4(e.completionTokens)),
      column((e) => e.estimated),
      column((e) => int4(e.durationMs)),
      column((e) => (e.ttftMs === null ? null : int4(e.ttftMs))),
      // ISO text in UTC: the same instant as node-postgres' own formatting of a Date, at a fraction of its cost.
      column((e) => e.at.toISOString()),
    ];
    // Each binding is an array (node-postgres sends it as a PostgreSQL array); knex's types know only scalars.
    const result = await this.db.raw<{ rowCount: number }>(INSERT, columns as unknown as Knex.RawBinding[]);
    return result.rowCount;
  }

  private filtered(filter: UsageFilter): Knex.QueryBuilder {
    const query = this.db('usage_records')
      .where('created_at', '>=', filter.from)
      .andWhere('created_at', '<', filter.to);
    if (filter.userId !== undefined) query.andWhere('user_id', filter.userId);
    if (filter.keyId !== undefined) query.andWhere('key_id', filter.keyId);
    if (filter.model !== undefined) query.andWhere('model', filter.model);
    return query;
  }

  async daily(filter: UsageFilter): Promise<DailyUsage[]> {
    const day = "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')";
    const rows = (await this.filtered(filter)
      .select(this.db.raw(`${day} AS date`), 'model', this.db.raw(TOTALS))
      .groupByRaw(`${day}, model`)
      .orderByRaw(`${day}, model`)) as (TotalsRow & { date: string; model: string })[];
    return rows.map(withTotals);
  }

  async grouped(filter: UsageFilter, page: Page): Promise<PageResult<GroupedUsage>> {
    const groups = () => this.filtered(filter).groupBy('user_id', 'key_id', 'model');
    const [rows, count] = await Promise.all([
      groups()
        .select('user_id', 'key_id', 'model', this.db.raw(TOTALS))
        .orderBy(['user_id', 'key_id', 'model'])
        .offset(page.skip)
        .limit(page.limit) as Promise<(TotalsRow & { user_id: string; key_id: string; model: string })[]>,
      this.db.from(groups().select(this.db.raw('1')).as('g')).count<{ count: string }[]>({ count: '*' }),
    ]);
    return {
      items: rows.map(withTotals),
      total: Number(count[0]?.count ?? 0),
    };
  }

  async keyOwner(keyId: string): Promise<string | undefined> {
    const row = await this.db('api_keys')
      .where('id', keyId)
      .first<{ user_id: string } | undefined>('user_id');
    return row?.user_id;
  }

  async userExists(userId: string): Promise<boolean> {
    return (await this.db('users').where('id', userId).first('id')) !== undefined;
  }
}

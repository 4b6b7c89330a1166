import type { Knex } from 'knex';
import type {
  Adjustment,
  CounterStore,
  Dimension,
  Grant,
  StoredWindow,
  Take,
  TakeResult,
} from './counter-store';

export interface KnexCounterStoreOptions {
  /** Length of a requests or tokens window (60 000 in production). */
  windowMs: number;
  /**
   * A statement not answered within this is cancelled and fails (a database that accepts connections but does not
   * answer, e.g. a lock): the request is then decided by LIMITS_ON_STORE_ERROR instead of waiting. Unset: no bound.
   */
  statementTimeoutMs?: number;
}

const TABLE: Record<Dimension, 'limit_windows' | 'limit_budgets'> = {
  requests: 'limit_windows',
  tokens: 'limit_windows',
  budget: 'limit_budgets',
};

/**
 * The new window a take would open: `now` and `now + window` for the per-minute windows, the calendar month in
 * UTC for budgets. `now` is truncated to milliseconds so a window end read back names its window exactly.
 */
const WINDOW: Record<'limit_windows' | 'limit_budgets', { start: string; end: string }> = {
  limit_windows: { start: 'clock.t', end: "clock.t + ?::bigint * interval '1 millisecond'" },
  limit_budgets: {
    start: "date_trunc('month', clock.t, 'UTC')",
    end: "date_trunc('month', clock.t, 'UTC') + interval '1 month'",
  },
};

/**
 * One statement per table: insert the window or, on conflict, restart it when it is over, else add what is left
 * up to the limit. The row lock of ON CONFLICT DO UPDATE serialises concurrent takes, so `taken` never passes
 * `lim`. Dimensions refused (the WHERE failed) are read back from the statement's snapshot for their window end.
 */
function takeSql(table: 'limit_windows' | 'limit_budgets'): string {
  const window = WINDOW[table];
  const expired = 'w.window_end <= EXCLUDED.window_start';
  return `
    WITH clock AS (SELECT date_trunc('milliseconds', clock_timestamp()) AS t),
    want AS (SELECT * FROM unnest(?::text[], ?::bigint[], ?::bigint[]) AS x (dimension, amount, lim)),
    up AS (
      INSERT INTO ${table} AS w (key_id, dimension, window_start, window_end, taken, last_grant, lim)
      SELECT ?::uuid, want.dimension, ${window.start}, ${window.end},
             LEAST(want.amount, want.lim), LEAST(want.amount, want.lim), want.lim
        FROM want, clock
      ON CONFLICT (key_id, dimension) DO UPDATE SET
        window_start = CASE WHEN ${expired} THEN EXCLUDED.window_start ELSE w.window_start END,
        window_end = CASE WHEN ${expired} THEN EXCLUDED.window_end ELSE w.window_end END,
        taken = CASE WHEN ${expired} THEN EXCLUDED.taken
                     ELSE w.taken + LEAST(EXCLUDED.taken, EXCLUDED.lim - w.taken) END,
        last_grant = CASE WHEN ${expired} THEN EXCLUDED.taken ELSE LEAST(EXCLUDED.taken, EXCLUDED.lim - w.taken) END,
        lim = EXCLUDED.lim
      WHERE ${expired} OR w.taken < EXCLUDED.lim
      RETURNING w.dimension, w.last_grant AS granted, w.taken, w.lim, w.window_end
    )
    SELECT dimension, granted, taken, lim, ${epochMs('window_end')} AS window_end, ${epochMs('(SELECT t FROM clock)')} AS now
      FROM up
    UNION ALL
    SELECT w.dimension, 0, w.taken, want.lim, ${epochMs('w.window_end')}, ${epochMs('(SELECT t FROM clock)')}
      FROM ${table} w JOIN want ON want.dimension = w.dimension
     WHERE w.key_id = ?::uuid AND w.dimension NOT IN (SELECT dimension FROM up)`;
}

function epochMs(expression: string): string {
  return `(extract(epoch FROM ${expression}) * 1000)::bigint`;
}

function adjustSql(table: 'limit_windows' | 'limit_budgets'): string {
  return `
    UPDATE ${table} AS w SET taken = GREATEST(w.taken + a.delta, 0)
      FROM unnest(?::text[], ?::bigint[], ?::bigint[]) AS a (dimension, window_end, delta)
     WHERE w.key_id = ?::uuid AND w.dimension = a.dimension
       AND w.window_end = 'epoch'::timestamptz + a.window_end * interval '1 millisecond'`;
}

interface GrantRow {
  dimension: Dimension;
  granted: string;
  taken: string;
  lim: string;
  window_end: string;
  now: string;
}

/** The shared count in PostgreSQL (tables limit_windows and limit_budgets). */
export class KnexCounterStore implements CounterStore {
  private readonly sql = {
    limit_windows: { take: takeSql('limit_windows'), adjust: adjustSql('limit_windows') },
    limit_budgets: { take: takeSql('limit_budgets'), adjust: adjustSql('limit_budgets') },
  };

  constructor(
    private readonly db: Knex,
    private readonly options: KnexCounterStoreOptions,
  ) {}

  async take(keyId: string, takes: readonly Take[]): Promise<TakeResult> {
    const results = await Promise.all(
      byTable(takes).map(([table, group]) => {
        const bindings: Knex.RawBinding[] = [
          group.map((t) => t.dimension),
          group.map((t) => Math.max(0, Math.floor(t.want))),
          group.map((t) => Math.max(0, Math.floor(t.limit))),
          keyId,
          ...(table === 'limit_windows' ? [this.options.windowMs] : []),
          keyId,
        ];
        return this.bounded(this.db.raw<{ rows: GrantRow[] }>(this.sql[table].take, bindings));
      }),
    );
    const rows = results.flatMap((result) => result.rows);
    const grants: Grant[] = rows.map((row) => ({
      dimension: row.dimension,
      granted: Number(row.granted),
      taken: Number(row.taken),
      limit: Number(row.lim),
      windowEnd: Number(row.window_end),
    }));
    return { now: rows.length > 0 ? Number(rows[0]!.now) : Date.now(), grants };
  }

  async read(keyId: string): Promise<{ now: number; windows: StoredWindow[] }> {
    const { rows } = await this.bounded(
      this.db.raw<{ rows: { dimension: Dimension; taken: string; window_end: string; now: string }[] }>(
        READ_SQL,
        [keyId, keyId],
      ),
    );
    return {
      now: rows.length > 0 ? Number(rows[0]!.now) : Date.now(),
      windows: rows.map((row) => ({
        dimension: row.dimension,
        taken: Number(row.taken),
        windowEnd: Number(row.window_end),
      })),
    };
  }

  private bounded<T>(query: Knex.Raw<T>): Knex.Raw<T> {
    const ms = this.options.statementTimeoutMs;
    return ms === undefined ? query : query.timeout(ms, { cancel: true });
  }

  async adjust(keyId: string, adjustments: readonly Adjustment[]): Promise<void> {
    await Promise.all(
      byTable(adjustments).map(([table, group]) =>
        this.bounded(
          this.db.raw(this.sql[table].adjust, [
            group.map((a) => a.dimension),
            group.map((a) => a.windowEnd),
            group.map((a) => Math.trunc(a.delta)),
            keyId,
          ]),
        ),
      ),
    );
  }
}

const READ_SQL = `
  SELECT dimension, taken, ${epochMs('window_end')} AS window_end, ${epochMs('clock_timestamp()')} AS now
    FROM limit_windows WHERE key_id = ?::uuid
  UNION ALL
  SELECT dimension, taken, ${epochMs('window_end')}, ${epochMs('clock_timestamp()')}
    FROM limit_budgets WHERE key_id = ?::uuid`;

function byTable<T extends { dimension: Dimension }>(items: readonly T[]): [keyof typeof WINDOW, T[]][] {
  const groups = new Map<keyof typeof WINDOW, T[]>();
  for (const item of items) {
    const table = TABLE[item.dimension];
    const group = groups.get(table);
    if (group) group.push(item);
    else groups.set(table, [item]);
  }
  return [...groups];
}

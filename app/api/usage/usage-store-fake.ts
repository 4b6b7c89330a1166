import type { Page, PageResult } from '../schemas';
import type {
  DailyUsage,
  GroupedUsage,
  LedgerEntry,
  UsageFilter,
  UsageStore,
  UsageTotals,
} from './usage-store';

function empty(): UsageTotals {
  return { requests: 0, failedRequests: 0, estimatedRequests: 0, promptTokens: 0, completionTokens: 0 };
}

function add(into: UsageTotals, entry: LedgerEntry): void {
  into.requests += 1;
  if (entry.status >= 400) into.failedRequests += 1;
  if (entry.estimated) into.estimatedRequests += 1;
  into.promptTokens += entry.promptTokens;
  into.completionTokens += entry.completionTokens;
}

/** In-memory UsageStore for unit tests. `failNext` makes the next inserts throw that error (one per call). */
export class FakeUsageStore implements UsageStore {
  readonly rows = new Map<string, LedgerEntry>();
  readonly batches: LedgerEntry[][] = [];
  readonly keys = new Map<string, string>();
  readonly users = new Set<string>();
  failNext: unknown[] = [];
  /** Resolves the insert under way when set; lets a test hold a flush open. */
  gate: Promise<void> | undefined;

  async insert(entries: readonly LedgerEntry[]): Promise<number> {
    if (this.gate) await this.gate;
    if (this.failNext.length > 0) throw this.failNext.shift();
    this.batches.push([...entries]);
    let added = 0;
    for (const entry of entries) {
      if (this.rows.has(entry.id)) continue;
      this.rows.set(entry.id, entry);
      added += 1;
    }
    return added;
  }

  private matching(filter: UsageFilter): LedgerEntry[] {
    return [...this.rows.values()].filter(
      (e) =>
        e.at >= filter.from &&
        e.at < filter.to &&
        (filter.userId === undefined || e.userId === filter.userId) &&
        (filter.keyId === undefined || e.keyId === filter.keyId) &&
        (filter.model === undefined || e.model === filter.model),
    );
  }

  async daily(filter: UsageFilter): Promise<DailyUsage[]> {
    const groups = new Map<string, DailyUsage>();
    for (const entry of this.matching(filter)) {
      const date = entry.at.toISOString().slice(0, 10);
      const key = `${date}\u0000${entry.model}`;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { date, model: entry.model, ...empty() }));
      add(group, entry);
    }
    return [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, g]) => g);
  }

  async grouped(filter: UsageFilter, page: Page): Promise<PageResult<GroupedUsage>> {
    const groups = new Map<string, GroupedUsage>();
    for (const entry of this.matching(filter)) {
      const key = `${entry.userId}\u0000${entry.keyId}\u0000${entry.model}`;
      let group = groups.get(key);
      if (!group)
        groups.set(
          key,
          (group = { userId: entry.userId, keyId: entry.keyId, model: entry.model, ...empty() }),
        );
      add(group, entry);
    }
    const all = [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, g]) => g);
    return { items: all.slice(page.skip, page.skip + page.limit), total: all.length };
  }

  async keyOwner(keyId: string): Promise<string | undefined> {
    return this.keys.get(keyId);
  }

  async userExists(userId: string): Promise<boolean> {
    return this.users.has(userId);
  }
}

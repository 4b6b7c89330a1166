import { NotFoundError } from '../../http/errors';
import type { Page, PageResult } from '../schemas';
import type { DailyUsage, GroupedUsage, UsageFilter, UsageStore } from './usage-store';

const DAY_MS = 86_400_000;
/** Without `from`, a range ends today and starts this many days before. */
export const DEFAULT_RANGE_DAYS = 30;

/** A range of UTC days as the routes take it: `from` and `to` (both included), YYYY-MM-DD. */
export interface DayRange {
  from?: string;
  to?: string;
}

export interface UsageServiceOptions {
  store: Pick<UsageStore, 'daily' | 'grouped' | 'keyOwner' | 'userExists'>;
  now?: () => number;
}

function startOfDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/**
 * The usage routes' rules: a caller sees its own user's usage only (another user's key or user id is answered as
 * unknown, 404, so ids cannot be probed), an admin anyone's; ranges are whole UTC days.
 */
export class UsageService {
  private readonly now: () => number;

  constructor(private readonly options: UsageServiceOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The range as instants: [from 00:00, the day after `to` 00:00). */
  range(days: DayRange): { from: Date; to: Date } {
    const to = days.to ? Date.parse(`${days.to}T00:00:00Z`) : startOfDay(this.now());
    const from = days.from ? Date.parse(`${days.from}T00:00:00Z`) : to - (DEFAULT_RANGE_DAYS - 1) * DAY_MS;
    // `from` after `to` is an empty range (answered with no rows), as any range without records is.
    return { from: new Date(from), to: new Date(Math.max(from, to + DAY_MS)) };
  }

  /** The caller's usage per day and model; `keyId` narrows it to one of the caller's keys. */
  async own(
    userId: string,
    query: DayRange & { keyId?: string; userId?: string; model?: string },
  ): Promise<{ from: Date; to: Date; days: DailyUsage[] }> {
    if (query.userId !== undefined && query.userId !== userId) throw unknownUser(query.userId);
    if (query.keyId !== undefined && (await this.options.store.keyOwner(query.keyId)) !== userId)
      throw unknownKey(query.keyId, 'among your keys');
    const range = this.range(query);
    const filter: UsageFilter = { ...range, userId, keyId: query.keyId, model: query.model };
    return { ...range, days: await this.options.store.daily(filter) };
  }

  /** Anyone's usage per user, key and model (admins). */
  async all(
    query: DayRange & { userId?: string; keyId?: string; model?: string },
    page: Page,
  ): Promise<{ from: Date; to: Date; groups: PageResult<GroupedUsage> }> {
    if (query.userId !== undefined && !(await this.options.store.userExists(query.userId)))
      throw unknownUser(query.userId);
    if (query.keyId !== undefined) {
      const owner = await this.options.store.keyOwner(query.keyId);
      if (owner === undefined || (query.userId !== undefined && owner !== query.userId))
        throw unknownKey(query.keyId, query.userId === undefined ? '' : `of user ${query.userId}`);
    }
    const range = this.range(query);
    const filter: UsageFilter = { ...range, userId: query.userId, keyId: query.keyId, model: query.model };
    return { ...range, groups: await this.options.store.grouped(filter, page) };
  }
}

function unknownUser(id: string): NotFoundError {
  return new NotFoundError(`No user ${id}.`, { code: 'user_not_found', param: 'user_id' });
}

function unknownKey(id: string, where: string): NotFoundError {
  return new NotFoundError(`No API key ${id}${where ? ` ${where}` : ''}.`, {
    code: 'key_not_found',
    param: 'key_id',
  });
}

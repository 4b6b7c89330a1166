import type { Page, PageResult } from '../schemas';
import type { CompletionRecord } from './completion-record';

/** One row of the ledger: a completion record with the id the gateway gave it (time-ordered, unique). */
export interface LedgerEntry extends CompletionRecord {
  id: string;
}

/** Rows with `from <= at < to`, narrowed by the filters that are set. */
export interface UsageFilter {
  from: Date;
  to: Date;
  userId?: string;
  keyId?: string;
  model?: string;
}

export interface UsageTotals {
  requests: number;
  /** Answered with a status of 400 or more (499: the client went away). */
  failedRequests: number;
  /** Counted with the tokenizer because the upstream reported no usage. */
  estimatedRequests: number;
  promptTokens: number;
  completionTokens: number;
}

/** Totals of one UTC day and model. */
export interface DailyUsage extends UsageTotals {
  /** YYYY-MM-DD, UTC. */
  date: string;
  model: string;
}

/** Totals of one user, key and model over the filter's range. */
export interface GroupedUsage extends UsageTotals {
  userId: string;
  keyId: string;
  model: string;
}

export interface UsageStore {
  /** Inserts a batch in one statement; an entry whose id is already there is skipped. Returns the rows added. */
  insert(entries: readonly LedgerEntry[]): Promise<number>;
  /** Per UTC day and model, oldest day first. */
  daily(filter: UsageFilter): Promise<DailyUsage[]>;
  /** Per user, key and model, ordered by them, one page of groups and how many there are. */
  grouped(filter: UsageFilter, page: Page): Promise<PageResult<GroupedUsage>>;
  /** The user a key belongs to; undefined for an unknown key. */
  keyOwner(keyId: string): Promise<string | undefined>;
  userExists(userId: string): Promise<boolean>;
}

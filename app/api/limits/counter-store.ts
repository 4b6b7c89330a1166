/** What a limit counts: requests and tokens per minute window, tokens per calendar month (UTC). */
export type Dimension = 'requests' | 'tokens' | 'budget';
export const dimensions: readonly Dimension[] = ['requests', 'tokens', 'budget'];

export interface Take {
  dimension: Dimension;
  /** Permits wanted; fewer may be granted, never more than the window has left. */
  want: number;
  /** The limit of the window, as the policy says now (a lowered limit applies to the next take). */
  limit: number;
}

export interface Grant {
  dimension: Dimension;
  /** 0 when the window has nothing left. */
  granted: number;
  /** Permits handed out in the window so far, this grant included. */
  taken: number;
  limit: number;
  /** When the window ends, on the store's clock (ms since the epoch); it names the window for `adjust`. */
  windowEnd: number;
}

export interface TakeResult {
  /** The store's clock when it decided (ms since the epoch), to relate its window ends to this process's clock. */
  now: number;
  grants: Grant[];
}

export interface Adjustment {
  dimension: Dimension;
  /** The window it belongs to (a Grant's windowEnd); nothing changes once that window is over. */
  windowEnd: number;
  /** Negative: unspent permits given back; positive: permits used beyond the ones taken (may pass the limit). */
  delta: number;
}

/**
 * The one count of a key's permits that every replica shares. `take` is atomic: however many processes take at
 * once, a window never hands out more than its limit. A per-minute window starts with the first take after the
 * previous one ended and lasts the window length; the budget window is the calendar month in UTC.
 */
export interface CounterStore {
  take(keyId: string, takes: readonly Take[]): Promise<TakeResult>;
  adjust(keyId: string, adjustments: readonly Adjustment[]): Promise<void>;
  /** The key's windows as the store holds them (ended ones included), without taking anything. */
  read(keyId: string): Promise<{ now: number; windows: StoredWindow[] }>;
}

export interface StoredWindow {
  dimension: Dimension;
  /** Handed out in the window, including what replicas hold unspent. */
  taken: number;
  windowEnd: number;
}

import type { Adjustment, CounterStore, Dimension, StoredWindow, Take, TakeResult } from './counter-store';

interface Window {
  end: number;
  taken: number;
  limit: number;
}

/**
 * In-memory CounterStore with the knex store's semantics, for unit tests: `now` is its clock, `takes` counts round
 * trips, `failing` makes every call reject, `gate` holds takes until it resolves.
 */
export class FakeCounterStore implements CounterStore {
  readonly windows = new Map<string, Window>();
  takes = 0;
  adjustments: Adjustment[] = [];
  failing: Error | undefined;
  gate: Promise<void> | undefined;

  constructor(
    public now: () => number,
    private readonly windowMs: number,
  ) {}

  async take(keyId: string, takes: readonly Take[]): Promise<TakeResult> {
    this.takes += 1;
    if (this.gate) await this.gate;
    if (this.failing) throw this.failing;
    const now = this.now();
    const grants = takes.map((take) => {
      const id = `${keyId}/${take.dimension}`;
      let window = this.windows.get(id);
      if (!window || window.end <= now) {
        window = { end: this.windowEnd(take.dimension, now), taken: 0, limit: take.limit };
        this.windows.set(id, window);
      }
      window.limit = take.limit;
      const granted = Math.max(0, Math.min(take.want, take.limit - window.taken));
      window.taken += granted;
      return {
        dimension: take.dimension,
        granted,
        taken: window.taken,
        limit: take.limit,
        windowEnd: window.end,
      };
    });
    return { now, grants };
  }

  async adjust(keyId: string, adjustments: readonly Adjustment[]): Promise<void> {
    if (this.failing) throw this.failing;
    for (const adjustment of adjustments) {
      this.adjustments.push(adjustment);
      const window = this.windows.get(`${keyId}/${adjustment.dimension}`);
      if (window && window.end === adjustment.windowEnd)
        window.taken = Math.max(0, window.taken + adjustment.delta);
    }
  }

  async read(keyId: string): Promise<{ now: number; windows: StoredWindow[] }> {
    if (this.failing) throw this.failing;
    const windows: StoredWindow[] = [];
    for (const [id, window] of this.windows) {
      const [key, dimension] = id.split('/') as [string, Dimension];
      if (key === keyId) windows.push({ dimension, taken: window.taken, windowEnd: window.end });
    }
    return { now: this.now(), windows };
  }

  taken(keyId: string, dimension: Dimension): number {
    return this.windows.get(`${keyId}/${dimension}`)?.taken ?? 0;
  }

  private windowEnd(dimension: Dimension, now: number): number {
    if (dimension !== 'budget') return now + this.windowMs;
    const date = new Date(now);
    return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
  }
}

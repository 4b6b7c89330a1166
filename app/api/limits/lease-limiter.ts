import type { Adjustment, CounterStore, Dimension, Grant, Take, TakeResult } from './counter-store';
import { StoreUnreachableError } from './store-unreachable';

/** What one request needs of one limit. */
export interface Need {
  dimension: Dimension;
  amount: number;
  limit: number;
}

/** One limit as this process sees it after a decision, for the x-ratelimit-* headers. */
export interface LimitState {
  dimension: Dimension;
  limit: number;
  /** What the window has left: what the store has not handed out, plus what this process holds unspent. */
  remaining: number;
  /** Until the window ends (and the count starts again). */
  resetMs: number;
}

/** What an admitted request holds, to settle it later (refund or charge) in the window it was taken from. */
export interface Reservation {
  keyId: string;
  items: { dimension: Dimension; amount: number; windowEnd: number }[];
}

export type Decision =
  | { ok: true; reservation: Reservation; states: LimitState[] }
  | { ok: false; refusedBy: Dimension; retryAfterMs: number; states: LimitState[] };

export interface LeaseLimiterOptions {
  /** A lease covers this much of a key's recent demand, so a busy key needs one round trip per lease, not per request. */
  leaseMs: number;
  /** A lease takes at most this share of what its window has left (beyond what waiting requests need). */
  headroomShare: number;
  /** Permits a process has not spent for this long go back to the store, for the other replicas. */
  idleReturnMs: number;
  /** After a window answered that it is used up, refusals are decided here for this long without asking again. */
  recheckMs: number;
  /** For `resetMs` before anything was taken: the length of a per-minute window. */
  windowMs: number;
  now?: () => number;
  /**
   * When false (a known outage), a request that needs the store fails at once with StoreUnreachableError instead
   * of waiting for the connect and query timeouts, and give-backs are dropped.
   */
  storeReachable?: () => boolean;
  /** Every round trip to the store, for metrics. */
  onRoundTrip?: (operation: 'take' | 'adjust', seconds: number, ok: boolean) => void;
  /** A give-back or charge that failed (it is not retried; the window ends anyway). */
  onAdjustError?: (error: unknown) => void;
}

class Bucket {
  /** The window these permits belong to, on the store's clock; 0 before the first take. */
  windowEnd = 0;
  /** This process's clock: permits are spent strictly before it (the window end, less clock offset and half a round trip). */
  deadline = 0;
  available = 0;
  taken = 0;
  limit = 0;
  exhaustedUntil = 0;
  lastUse = 0;
  rate = 0;
  private counted = 0;
  private countingSince = 0;

  /** Units spent per ms lately: the last full 250 ms, or the running count once 20 ms of it are in. */
  demand(now: number): number {
    const elapsed = now - this.countingSince;
    const running = this.countingSince > 0 && elapsed >= 20 ? this.counted / elapsed : 0;
    return Math.max(this.rate, running);
  }

  valid(now: number): boolean {
    return now < this.deadline;
  }

  spendable(now: number): number {
    return this.valid(now) ? this.available : 0;
  }

  spend(amount: number, now: number): void {
    this.available -= amount;
    this.lastUse = now;
    this.counted += amount;
    if (this.countingSince === 0) this.countingSince = now;
    else if (now - this.countingSince >= 250) {
      this.rate = this.counted / (now - this.countingSince);
      this.counted = 0;
      this.countingSince = now;
    }
  }
}

interface Waiter {
  needs: readonly Need[];
  resolve: (decision: Decision) => void;
  reject: (error: unknown) => void;
}

class KeyState {
  readonly buckets = new Map<Dimension, Bucket>();
  readonly waiters: Waiter[] = [];
  pumping = false;

  constructor(readonly id: string) {}

  bucket(dimension: Dimension): Bucket {
    let bucket = this.buckets.get(dimension);
    if (!bucket) {
      bucket = new Bucket();
      this.buckets.set(dimension, bucket);
    }
    return bucket;
  }
}

/**
 * Admits requests against limits shared by every replica, without a round trip per request: each process takes
 * permits from the CounterStore in leases and spends them locally. The store never hands out more than a window's
 * limit, and a process spends a permit only inside the window it was taken from, so all replicas together never
 * admit more than the limit. What they may admit less by is what they hold unspent when the window ends: a lease
 * is at most `leaseMs` of the key's demand on that replica and at most 1/`headroomShare` of what the window had
 * left, and permits idle for `idleReturnMs` go back to the store. A key whose requests come slowly gets leases of
 * one, i.e. a round trip per request. Concurrent requests of a key on one process share a single round trip.
 */
export class LeaseLimiter {
  private readonly keys = new Map<string, KeyState>();
  private readonly now: () => number;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: CounterStore,
    private readonly options: LeaseLimiterOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Resolves with the decision; rejects when the store could not be asked (the caller applies its policy). */
  acquire(keyId: string, needs: readonly Need[]): Promise<Decision> {
    const key = this.key(keyId);
    if (key.waiters.length === 0) {
      const decided = this.decideLocally(key, needs);
      if (decided) return Promise.resolve(decided);
    }
    return new Promise<Decision>((resolve, reject) => {
      key.waiters.push({ needs, resolve, reject });
      void this.pump(key);
    });
  }

  /** Gives back what a reservation holds (a request refused after all) or part of it (a completion that used less). */
  refund(keyId: string, dimension: Dimension, windowEnd: number, amount: number): void {
    if (amount <= 0) return;
    const bucket = this.keys.get(keyId)?.buckets.get(dimension);
    if (bucket && bucket.windowEnd === windowEnd && bucket.valid(this.now())) bucket.available += amount;
    else this.adjust(keyId, [{ dimension, windowEnd, delta: -amount }]);
  }

  /** Counts what a completion used beyond its reservation: from this process's unspent permits first, then the store. */
  charge(keyId: string, dimension: Dimension, windowEnd: number, amount: number): void {
    if (amount <= 0) return;
    const bucket = this.keys.get(keyId)?.buckets.get(dimension);
    let rest = amount;
    if (bucket && bucket.windowEnd === windowEnd && bucket.valid(this.now())) {
      const spent = Math.min(bucket.available, rest);
      bucket.available -= spent;
      rest -= spent;
    }
    if (rest > 0) this.adjust(keyId, [{ dimension, windowEnd, delta: rest }]);
  }

  /** The limit states of a key without taking anything, for a key's owner reading its limits. */
  states(keyId: string, needs: readonly Omit<Need, 'amount'>[]): LimitState[] {
    const key = this.key(keyId);
    return needs.map((need) => this.state(key, { ...need, amount: 0 }, this.now()));
  }

  start(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, this.options.idleReturnMs / 2));
    this.sweeper.unref();
  }

  /** Gives every unspent permit back, so a replica that stops takes nothing from the others. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    await Promise.all([...this.keys.values()].map((key) => this.giveBackIdle(key, 0)));
  }

  private key(keyId: string): KeyState {
    let key = this.keys.get(keyId);
    if (!key) {
      key = new KeyState(keyId);
      this.keys.set(keyId, key);
    }
    return key;
  }

  /** Admits or refuses from what this process holds; undefined when the store must be asked. */
  private decideLocally(key: KeyState, needs: readonly Need[]): Decision | undefined {
    const now = this.now();
    let short: Need | undefined;
    for (const need of needs) {
      if (key.bucket(need.dimension).spendable(now) < need.amount) {
        short = need;
        break;
      }
    }
    if (!short) {
      const items = needs.map((need) => {
        const bucket = key.bucket(need.dimension);
        bucket.spend(need.amount, now);
        return { dimension: need.dimension, amount: need.amount, windowEnd: bucket.windowEnd };
      });
      return { ok: true, reservation: { keyId: key.id, items }, states: this.statesOf(key, needs, now) };
    }
    for (const need of needs) {
      const bucket = key.bucket(need.dimension);
      if (bucket.spendable(now) < need.amount && now < bucket.exhaustedUntil) {
        this.releaseOthers(key, need.dimension, now);
        return {
          ok: false,
          refusedBy: need.dimension,
          retryAfterMs: Math.max(0, bucket.deadline - now),
          states: this.statesOf(key, needs, now),
        };
      }
    }
    return undefined;
  }

  private async pump(key: KeyState): Promise<void> {
    if (key.pumping) return;
    key.pumping = true;
    try {
      while (key.waiters.length > 0) {
        const head = key.waiters[0]!;
        const decided = this.decideLocally(key, head.needs);
        if (decided) {
          key.waiters.shift();
          head.resolve(decided);
          continue;
        }
        if (this.options.storeReachable && !this.options.storeReachable()) {
          const error = new StoreUnreachableError();
          for (const waiter of key.waiters.splice(0)) waiter.reject(error);
          return;
        }
        const takes = this.takesFor(key, head.needs);
        const sent = this.now();
        let result: TakeResult;
        try {
          result = await this.store.take(key.id, takes);
          this.options.onRoundTrip?.('take', (this.now() - sent) / 1000, true);
        } catch (error) {
          this.options.onRoundTrip?.('take', (this.now() - sent) / 1000, false);
          for (const waiter of key.waiters.splice(0)) waiter.reject(error);
          return;
        }
        this.apply(key, takes, result, sent, this.now());
      }
    } finally {
      key.pumping = false;
    }
  }

  /** What to ask for: every waiting request's shortfall, or a lease sized to the key's demand if that is more. */
  private takesFor(key: KeyState, needs: readonly Need[]): Take[] {
    const now = this.now();
    const takes: Take[] = [];
    for (const need of needs) {
      const bucket = key.bucket(need.dimension);
      const spendable = bucket.spendable(now);
      if (spendable >= need.amount) continue;
      let waiting = 0;
      for (const waiter of key.waiters)
        for (const other of waiter.needs) if (other.dimension === need.dimension) waiting += other.amount;
      const shortfall = Math.max(need.amount, waiting) - spendable;
      takes.push({
        dimension: need.dimension,
        want: Math.max(shortfall, this.leaseSize(bucket, need, now)),
        limit: need.limit,
      });
    }
    return takes;
  }

  private leaseSize(bucket: Bucket, need: Need, now: number): number {
    const left = bucket.valid(now) ? Math.max(0, need.limit - bucket.taken) : need.limit;
    const cap = Math.max(1, Math.floor(left / this.options.headroomShare));
    return Math.min(cap, Math.max(1, Math.ceil(bucket.demand(now) * this.options.leaseMs)));
  }

  private apply(
    key: KeyState,
    takes: readonly Take[],
    result: TakeResult,
    sent: number,
    received: number,
  ): void {
    const halfTrip = (received - sent) / 2;
    const offset = result.now - (sent + halfTrip);
    for (const take of takes) {
      const grant: Grant | undefined = result.grants.find((g) => g.dimension === take.dimension);
      const bucket = key.bucket(take.dimension);
      if (!grant) {
        bucket.exhaustedUntil = received + this.options.recheckMs;
        continue;
      }
      // A window end the bucket has not seen means its old window is over: what it still held is void.
      if (grant.windowEnd !== bucket.windowEnd) {
        bucket.windowEnd = grant.windowEnd;
        bucket.available = 0;
      }
      bucket.deadline = grant.windowEnd - offset - halfTrip;
      bucket.available += grant.granted;
      bucket.taken = grant.taken;
      bucket.limit = grant.limit;
      bucket.exhaustedUntil =
        grant.granted < take.want ? Math.min(bucket.deadline, received + this.options.recheckMs) : 0;
    }
  }

  private statesOf(key: KeyState, needs: readonly Need[], now: number): LimitState[] {
    return needs.map((need) => this.state(key, need, now));
  }

  private state(key: KeyState, need: Need, now: number): LimitState {
    const bucket = key.buckets.get(need.dimension);
    if (!bucket || !bucket.valid(now)) {
      return {
        dimension: need.dimension,
        limit: need.limit,
        remaining: need.limit,
        resetMs: this.freshReset(need.dimension, now),
      };
    }
    return {
      dimension: need.dimension,
      limit: need.limit,
      remaining: Math.max(0, need.limit - bucket.taken + bucket.available),
      resetMs: Math.max(0, bucket.deadline - now),
    };
  }

  /** A window not started yet would reset this long after it starts. */
  private freshReset(dimension: Dimension, now: number): number {
    if (dimension !== 'budget') return this.options.windowMs;
    const date = new Date(now);
    return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) - now;
  }

  /**
   * A key refused here for one limit cannot spend what it holds of the others until that limit has room again:
   * those go back to the store at once, for replicas that can use them (else two replicas could each hold the last
   * permits of a different limit until the idle return). What it holds of the refusing limit stays: less than this
   * request needs, it may still fit a smaller one here.
   */
  private releaseOthers(key: KeyState, refusedBy: Dimension, now: number): void {
    const back: Adjustment[] = [];
    for (const [dimension, bucket] of key.buckets) {
      if (dimension === refusedBy || bucket.available <= 0 || !bucket.valid(now)) continue;
      back.push({ dimension, windowEnd: bucket.windowEnd, delta: -bucket.available });
      bucket.available = 0;
    }
    if (back.length > 0) void this.adjust(key.id, back);
  }

  private sweep(): void {
    const now = this.now();
    for (const key of this.keys.values()) {
      void this.giveBackIdle(key, this.options.idleReturnMs);
      const live = [...key.buckets.values()].some((b) => b.valid(now) || b.exhaustedUntil > now);
      if (!live && key.waiters.length === 0 && !key.pumping) this.keys.delete(key.id);
    }
  }

  private giveBackIdle(key: KeyState, idleMs: number): Promise<void> {
    const now = this.now();
    const back: Adjustment[] = [];
    for (const [dimension, bucket] of key.buckets) {
      if (bucket.available > 0 && bucket.valid(now) && now - bucket.lastUse >= idleMs) {
        back.push({ dimension, windowEnd: bucket.windowEnd, delta: -bucket.available });
        bucket.available = 0;
      }
    }
    return back.length > 0 ? this.adjust(key.id, back) : Promise.resolve();
  }

  /** During a known outage nothing is sent: a give-back or charge is not retried anyway, and the window ends. */
  private adjust(keyId: string, adjustments: Adjustment[]): Promise<void> {
    if (this.options.storeReachable?.() === false) return Promise.resolve();
    const sent = this.now();
    return this.store.adjust(keyId, adjustments).then(
      () => this.options.onRoundTrip?.('adjust', (this.now() - sent) / 1000, true),
      (error: unknown) => {
        this.options.onRoundTrip?.('adjust', (this.now() - sent) / 1000, false);
        this.options.onAdjustError?.(error);
      },
    );
  }
}

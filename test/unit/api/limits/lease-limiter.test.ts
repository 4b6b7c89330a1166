import { FakeCounterStore } from '../../../../app/api/limits/counter-store-fake';
import { LeaseLimiter, type LeaseLimiterOptions, type Need } from '../../../../app/api/limits/lease-limiter';

const WINDOW = 60_000;

function setup(replicas = 1, options: Partial<LeaseLimiterOptions> = {}) {
  let clock = 1_000_000;
  const now = () => clock;
  const store = new FakeCounterStore(now, WINDOW);
  const limiters = Array.from(
    { length: replicas },
    () =>
      new LeaseLimiter(store, {
        leaseMs: 100,
        headroomShare: 8,
        idleReturnMs: 1_000,
        recheckMs: 250,
        windowMs: WINDOW,
        now,
        ...options,
      }),
  );
  return {
    store,
    limiters,
    limiter: limiters[0]!,
    advance: (ms: number) => (clock += ms),
  };
}

const requests = (limit: number): Need[] => [{ dimension: 'requests', amount: 1, limit }];

describe('LeaseLimiter', () => {
  it('admits exactly the limit from replicas sharing one store, under random interleaving', async () => {
    const { limiters, advance, store } = setup(3);
    let admitted = 0;
    let refused = 0;
    for (let i = 0; i < 600; i++) {
      const limiter = limiters[Math.floor(Math.random() * limiters.length)]!;
      const decision = await limiter.acquire('key', requests(120));
      if (decision.ok) admitted += 1;
      else refused += 1;
      advance(5);
    }
    expect(admitted).toBe(120);
    expect(refused).toBe(480);
    expect(store.taken('key', 'requests')).toBe(120);
  });

  it('never admits more than the limit with 50 requests at once on one process, and asks the store once for them', async () => {
    const { limiter, store } = setup();
    const decisions = await Promise.all(
      Array.from({ length: 50 }, () => limiter.acquire('key', requests(20))),
    );
    expect(decisions.filter((d) => d.ok)).toHaveLength(20);
    expect(decisions.filter((d) => !d.ok)).toHaveLength(30);
    expect(store.takes).toBeLessThanOrEqual(2);
  });

  it('leases ahead for a busy key: far fewer round trips than requests', async () => {
    const { limiter, store, advance } = setup();
    for (let i = 0; i < 2_000; i++) {
      expect((await limiter.acquire('key', requests(1_000_000))).ok).toBe(true);
      advance(1); // 1000 requests per second
    }
    expect(store.takes).toBeLessThan(100);
  });

  it('starts a new window once the last one is over, and reports the reset of the window in use', async () => {
    const { limiter, advance } = setup();
    for (let i = 0; i < 5; i++) expect((await limiter.acquire('key', requests(5))).ok).toBe(true);
    advance(20_000);
    const refused = await limiter.acquire('key', requests(5));
    expect(refused).toMatchObject({ ok: false, refusedBy: 'requests' });
    if (refused.ok) throw new Error('unreachable');
    expect(refused.retryAfterMs).toBeGreaterThan(39_000);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(40_000);
    expect(refused.states[0]).toMatchObject({ limit: 5, remaining: 0 });
    advance(40_001);
    const again = await limiter.acquire('key', requests(5));
    expect(again.ok).toBe(true);
    expect(again.states[0]).toMatchObject({ limit: 5, remaining: 4, resetMs: WINDOW });
  });

  it('refuses on the tokens left while requests are left, keeping the request permit for the next one', async () => {
    const { limiter, store } = setup();
    const needs = (tokens: number): Need[] => [
      { dimension: 'requests', amount: 1, limit: 10 },
      { dimension: 'tokens', amount: tokens, limit: 1_000 },
    ];
    expect((await limiter.acquire('key', needs(900))).ok).toBe(true);
    expect(await limiter.acquire('key', needs(200))).toMatchObject({ ok: false, refusedBy: 'tokens' });
    const small = await limiter.acquire('key', needs(100));
    expect(small.ok).toBe(true);
    expect(small.states.find((s) => s.dimension === 'requests')?.remaining).toBe(8);
    expect(store.taken('key', 'tokens')).toBe(1_000);
  });

  it('gives back what it holds of the other limits when one refuses, so none is stranded on a refusing replica', async () => {
    const { limiters, store } = setup(2);
    const [a, b] = limiters as [LeaseLimiter, LeaseLimiter];
    const needs = (tokens: number): Need[] => [
      { dimension: 'requests', amount: 1, limit: 10 },
      { dimension: 'tokens', amount: tokens, limit: 1_000 },
    ];
    expect((await a.acquire('key', needs(990))).ok).toBe(true);
    expect(await b.acquire('key', needs(20))).toMatchObject({ ok: false, refusedBy: 'tokens' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.taken('key', 'requests')).toBe(1);
    // B keeps the 10 tokens it got (fewer than its request needed): a smaller request still fits there.
    expect((await b.acquire('key', needs(10))).ok).toBe(true);
  });

  it('refunds unused tokens to this process and charges tokens used beyond the reservation', async () => {
    const { limiter, store } = setup();
    const need: Need[] = [{ dimension: 'tokens', amount: 600, limit: 1_000 }];
    const first = await limiter.acquire('key', need);
    if (!first.ok) throw new Error('refused');
    expect(await limiter.acquire('key', need)).toMatchObject({ ok: false });
    limiter.refund('key', 'tokens', first.reservation.items[0]!.windowEnd, 500);
    expect((await limiter.acquire('key', need)).ok).toBe(true);
    const second = await limiter.acquire('key', [{ dimension: 'tokens', amount: 1, limit: 1_000 }]);
    if (!second.ok) throw new Error('refused');
    limiter.charge('key', 'tokens', second.reservation.items[0]!.windowEnd, 300);
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.taken('key', 'tokens')).toBeGreaterThan(1_000);
    expect(await limiter.acquire('key', [{ dimension: 'tokens', amount: 1, limit: 1_000 }])).toMatchObject({
      ok: false,
    });
  });

  it('gives idle permits back so other replicas can spend them', async () => {
    const { limiters, advance, store } = setup(2);
    const [a, b] = limiters as [LeaseLimiter, LeaseLimiter];
    // A takes a lease larger than one request by being busy.
    for (let i = 0; i < 400; i++) {
      await a.acquire('key', requests(1_000));
      advance(1);
    }
    const heldByA = store.taken('key', 'requests') - 400;
    expect(heldByA).toBeGreaterThan(0);
    advance(1_500);
    a.start();
    await new Promise((resolve) => setTimeout(resolve, 600));
    await a.close();
    expect(store.taken('key', 'requests')).toBe(400);
    let admitted = 0;
    for (let i = 0; i < 700; i++) if ((await b.acquire('key', requests(1_000))).ok) admitted += 1;
    expect(admitted).toBe(600);
  });

  it('spends a lease only inside its window, on its own clock, even when the store clock is ahead', async () => {
    const { limiter, store, advance } = setup();
    const storeClock = store.now;
    store.now = () => storeClock() + 5_000; // the database's clock runs 5 s ahead of this process
    const need = (amount: number): Need[] => [{ dimension: 'tokens', amount, limit: 100 }];
    const first = await limiter.acquire('key', need(60));
    if (!first.ok) throw new Error('refused');
    expect(first.states[0]).toMatchObject({ remaining: 40, resetMs: WINDOW });
    limiter.refund('key', 'tokens', first.reservation.items[0]!.windowEnd, 50); // it used 10: 50 held here
    advance(WINDOW - 1);
    expect((await limiter.acquire('key', need(1))).states[0]).toMatchObject({ remaining: 89 });
    expect(store.taken('key', 'tokens')).toBe(60);
    advance(1);
    // The window is over by the store's clock (5 s ahead): what this process held from it is not spent.
    const next = await limiter.acquire('key', need(1));
    expect(next.states[0]).toMatchObject({ remaining: 99, resetMs: WINDOW });
    expect(store.taken('key', 'tokens')).toBe(1);
  });

  it('rejects the waiting requests when the store fails, and does not ask a store known to be down', async () => {
    let reachable = true;
    const { limiter, store } = setup(1, { storeReachable: () => reachable });
    store.failing = new Error('connection refused');
    await expect(limiter.acquire('key', requests(10))).rejects.toThrow('connection refused');
    reachable = false;
    const before = store.takes;
    await expect(limiter.acquire('key', requests(10))).rejects.toThrow(/unreachable/);
    expect(store.takes).toBe(before);
  });

  it('sends no give-back during a known outage', async () => {
    let reachable = true;
    const { limiter, store, advance } = setup(1, { storeReachable: () => reachable });
    const admitted = await limiter.acquire('key', [{ dimension: 'tokens', amount: 100, limit: 1_000 }]);
    if (!admitted.ok) throw new Error('refused');
    limiter.refund('key', 'tokens', admitted.reservation.items[0]!.windowEnd, 60); // held here, unspent
    reachable = false;
    advance(2_000);
    await limiter.close(); // gives back what it holds, when the store can be reached
    expect(store.adjustments).toEqual([]);
    expect(store.taken('key', 'tokens')).toBe(100);
  });

  it('refuses locally for a while after the window is used up, instead of asking per request', async () => {
    const { limiter, store } = setup();
    for (let i = 0; i < 3; i++) await limiter.acquire('key', requests(3));
    const before = store.takes;
    for (let i = 0; i < 100; i++) expect((await limiter.acquire('key', requests(3))).ok).toBe(false);
    expect(store.takes - before).toBeLessThanOrEqual(1);
  });
});

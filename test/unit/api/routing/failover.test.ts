import type http from 'node:http';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { createLogger } from '../../../../core/logger';
import type { AttemptRequest, AttemptResult } from '../../../../app/api/routing/attempt';
import { CircuitBreaker, type BreakerState } from '../../../../app/api/routing/breaker';
import {
  failover,
  payloadFor,
  type FailoverResult,
  type RoutingSnapshot,
} from '../../../../app/api/routing/failover';
import { compileRoutes } from '../../../../app/api/routing/route-table';
import { createRoutingMetrics } from '../../../../app/api/routing/routing-metrics';
import { parseRoutingText } from '../../../../app/api/routing/routing-source';
import { createRoutingStore } from '../../../../app/api/routing/routing-store';
import { UpstreamRegistry } from '../../../../app/api/routing/upstream-registry';
import { artifactModel } from '../../../support/models.mjs';

const silent = createLogger({ component: 'test', level: 'silent' });
const llm = artifactModel('llama', { upstreamId: '0xllama', tags: [] });

class Clock {
  t = Date.parse('2026-01-01T00:00:00Z');
  now = () => this.t;
  advance(ms: number) {
    this.t += ms;
  }
}

describe('CircuitBreaker', () => {
  it('opens after N consecutive failures, lets one trial through after the cool-down, closes on its success', () => {
    const clock = new Clock();
    const states: BreakerState[] = [];
    const breaker = new CircuitBreaker({ failures: 3, cooldownMs: 1_000 }, clock.now, (s) => states.push(s));
    for (let i = 0; i < 2; i++) breaker.settle(breaker.tryAcquire()!, 'failure');
    breaker.settle(breaker.tryAcquire()!, 'success');
    for (let i = 0; i < 2; i++) breaker.settle(breaker.tryAcquire()!, 'failure');
    expect(breaker.state).toBe('closed');
    const late = breaker.tryAcquire()!;
    breaker.settle(breaker.tryAcquire()!, 'failure');
    expect(breaker.state).toBe('open');
    expect(breaker.retryAt).toBe(clock.t + 1_000);
    // A request sent before it opened does not close it.
    breaker.settle(late, 'success');
    expect(breaker.tryAcquire()).toBeUndefined();
    clock.advance(1_000);
    const trial = breaker.tryAcquire()!;
    expect(trial.trial).toBe(true);
    expect(breaker.state).toBe('half_open');
    expect(breaker.tryAcquire()).toBeUndefined();
    breaker.settle(trial, 'success');
    expect(breaker.state).toBe('closed');
    expect(states).toEqual(['open', 'half_open', 'closed']);
  });

  it('a failed trial opens it for another cool-down; a neutral one lets the next request be the trial', () => {
    const clock = new Clock();
    const breaker = new CircuitBreaker({ failures: 1, cooldownMs: 500 }, clock.now);
    breaker.settle(breaker.tryAcquire()!, 'failure');
    clock.advance(500);
    breaker.settle(breaker.tryAcquire()!, 'failure');
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toBeUndefined();
    clock.advance(500);
    breaker.settle(breaker.tryAcquire()!, 'neutral');
    expect(breaker.state).toBe('half_open');
    const next = breaker.tryAcquire()!;
    expect(next.trial).toBe(true);
    breaker.settle(next, 'success');
    expect(breaker.state).toBe('closed');
  });
});

/** A routing with three upstreams in priority order a, b, c, and a fake transport scripted per upstream. */
function setup(extra = '', env: NodeJS.ProcessEnv = {}) {
  const clock = new Clock();
  const parsed = parseRoutingText(
    `
settings: { deadline: 10s }
upstreams:
  a: { url: "http://a", timeout: 2s, breaker: { failures: 2, cooldown: 5s } }
  b: { url: "http://b", timeout: 2s, maxConcurrency: 1 }
  c: { url: "http://c", timeout: 2s }
routes:
  - targets: [{ upstream: a }, { upstream: b, priority: 1 }, { upstream: c, priority: 2, model: name }]
${extra}`,
    '/r.yaml',
    env,
  );
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  const registry = new Registry();
  const metrics = createRoutingMetrics(registry);
  const upstreams = new UpstreamRegistry(clock.now, {
    breakerChanged: () => {},
    inFlightChanged: () => {},
    retired: () => {},
  });
  const snapshot: RoutingSnapshot = {
    table: compileRoutes(parsed.routing.file.routes),
    upstreams: upstreams.apply(parsed.routing),
    settings: parsed.routing.file.settings,
  };
  const sent: { upstream: string; model: unknown; timeoutMs: number }[] = [];
  let script: Record<string, (req: AttemptRequest) => AttemptResult> = {};
  const ok = (): AttemptResult => ({
    ok: true,
    request: {} as http.ClientRequest,
    response: { statusCode: 200 } as http.IncomingMessage,
  });
  const send = async (req: AttemptRequest): Promise<AttemptResult> => {
    sent.push({
      upstream: req.upstream.name,
      model: JSON.parse(req.payload.toString()).model,
      timeoutMs: req.timeoutMs,
    });
    return (script[req.upstream.name] ?? ok)(req);
  };
  /** One routed request; a served one gives its concurrency place back at once (as a finished answer does). */
  const run = async (signal = new AbortController().signal, hold = false): Promise<FailoverResult> => {
    const result = await failover(
      snapshot,
      {
        endpoint: 'chat',
        model: llm,
        body: { model: 'llama', messages: [] },
        stream: false,
        requestId: 'r',
        signal,
      },
      { send, metrics, logger: silent, now: clock.now, random: () => 0.5 },
    );
    if (result.ok && !hold) result.upstream.release();
    return result;
  };
  const value = async (name: string, labels: Record<string, string>) =>
    (await registry.getSingleMetric(name)!.get()).values.find((v) =>
      Object.entries(labels).every(([k, l]) => v.labels[k] === l),
    )?.value ?? 0;
  return {
    clock,
    snapshot,
    sent,
    run,
    value,
    ok,
    script: (s: typeof script) => (script = s),
    upstream: (name: string) => snapshot.upstreams.get(name)!,
  };
}

const failure = (reason: string, extra: Partial<AttemptResult> = {}) =>
  (() => ({ ok: false, reason, detail: reason, ...extra })) as () => AttemptResult;

describe('failover before the first byte', () => {
  it('moves past connect errors and 5xx to the next target, sending each its model name', async () => {
    const s = setup();
    s.script({ a: failure('connect'), b: failure('status_5xx', { status: 503 } as never) });
    const result = await s.run(undefined, true);
    expect(result).toMatchObject({ ok: true, attempts: 3, failovers: 2 });
    if (!result.ok) return;
    expect(result.upstream.name).toBe('c');
    expect(result.sentModel).toBe('llama');
    expect(s.sent.map((x) => [x.upstream, x.model])).toEqual([
      ['a', '0xllama'],
      ['b', '0xllama'],
      ['c', 'llama'],
    ]);
    expect(await s.value('modelgate_upstream_failovers_total', { upstream: 'a', reason: 'connect' })).toBe(1);
    expect(await s.value('modelgate_upstream_errors_total', { upstream: 'b', reason: 'status_5xx' })).toBe(1);
    expect(await s.value('modelgate_upstream_requests_total', { upstream: 'b', status_code: '503' })).toBe(1);
    expect(s.upstream('c').inFlight).toBe(1);
    expect(s.upstream('a').inFlight).toBe(0);
  });

  it('passes a client error (400) on at once, without trying another upstream', async () => {
    const s = setup();
    s.script({ a: failure('status_4xx', { status: 400, upstreamMessage: 'context too long' } as never) });
    const result = await s.run();
    expect(s.sent).toHaveLength(1);
    expect(result.ok).toBe(false);
    if (result.ok || result.error === 'client_gone') return;
    expect(result.error.status).toBe(400);
    expect(result.error.toJSON().error).toMatchObject({
      message: 'context too long',
      code: 'upstream_rejected',
    });
  });

  it('the breaker stops traffic after its threshold and lets one trial through after the cool-down', async () => {
    const s = setup();
    s.script({ a: failure('timeout') });
    await s.run();
    await s.run();
    expect(s.upstream('a').breaker.state).toBe('open');
    s.sent.length = 0;
    await s.run();
    expect(s.sent.map((x) => x.upstream)).toEqual(['b']);
    expect(await s.value('modelgate_upstream_errors_total', { upstream: 'a', reason: 'breaker_open' })).toBe(
      1,
    );
    s.clock.advance(5_000);
    s.script({});
    s.sent.length = 0;
    await s.run();
    expect(s.sent.map((x) => x.upstream)).toEqual(['a']);
    expect(s.upstream('a').breaker.state).toBe('closed');
  });

  it('honours Retry-After: a throttled upstream is skipped until then; all throttled is a 429 with Retry-After', async () => {
    const s = setup();
    const until = s.clock.t + 3_000;
    s.script({ a: failure('status_429', { status: 429, retryAt: until } as never), b: s.ok, c: s.ok });
    await s.run();
    s.sent.length = 0;
    await s.run();
    expect(s.sent.map((x) => x.upstream)).toEqual(['b']);
    s.clock.advance(3_000);
    s.sent.length = 0;
    await s.run();
    expect(s.sent.map((x) => x.upstream)).toEqual(['a', 'b']);

    s.script({
      a: failure('status_429', { status: 429, retryAt: s.clock.t + 9_000 } as never),
      b: failure('status_429', { status: 429, retryAt: s.clock.t + 2_500 } as never),
      c: failure('status_429', { status: 429 } as never),
    });
    const result = await s.run();
    if (result.ok || result.error === 'client_gone') throw new Error('expected a 429');
    expect(result.error.status).toBe(429);
    expect(result.error.code).toBe('upstream_rate_limited');
    expect(result.error.headers).toEqual({ 'retry-after': '3' });
  });

  it('a full concurrency cap counts as unavailable now: the next target', async () => {
    const s = setup();
    s.script({ a: failure('connect') });
    expect(s.upstream('b').tryReserve()).toBe(true);
    const result = await s.run();
    expect(result.ok && result.upstream.name).toBe('c');
    expect(s.sent.map((x) => x.upstream)).toEqual(['a', 'c']);
    expect(await s.value('modelgate_upstream_errors_total', { upstream: 'b', reason: 'busy' })).toBe(1);
  });

  it('every target unavailable (open, full) is a 503 with Retry-After', async () => {
    const s = setup();
    s.script({ a: failure('connect'), c: failure('connect') });
    await s.run();
    await s.run();
    expect(s.upstream('a').breaker.state).toBe('open');
    // b is at its cap of 1; c has no cap, so its breaker is opened instead.
    expect(s.upstream('b').tryReserve()).toBe(true);
    const c = s.upstream('c').breaker;
    while (c.state === 'closed') c.settle(c.tryAcquire()!, 'failure');
    const result = await s.run();
    if (result.ok || result.error === 'client_gone') throw new Error('expected a 503');
    expect(result.error.status).toBe(503);
    expect(result.error.code).toBe('upstream_unavailable');
    expect(Number(result.error.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('stops at the deadline: the last attempt gets only what is left of it, then 504', async () => {
    const s = setup();
    s.script({
      a: (req) => {
        s.clock.advance(req.timeoutMs);
        return failure('timeout')();
      },
      b: (req) => {
        s.clock.advance(req.timeoutMs);
        return failure('timeout')();
      },
    });
    s.snapshot.settings.deadline = 3_000;
    const result = await s.run();
    expect(s.sent.map((x) => [x.upstream, x.timeoutMs])).toEqual([
      ['a', 2_000],
      ['b', 1_000],
    ]);
    if (result.ok || result.error === 'client_gone') throw new Error('expected a 504');
    expect(result.error.status).toBe(504);
    expect(result.error.code).toBe('upstream_timeout');
  });

  it('the last failure decides the answer: 502 for connect errors, refused credentials, 5xx', async () => {
    for (const [reason, code] of [
      ['connect', 'upstream_unreachable'],
      ['auth', 'upstream_auth_failed'],
      ['status_5xx', 'upstream_error'],
      ['not_found', 'upstream_model_not_found'],
    ] as const) {
      const s = setup();
      s.script({
        a: failure('connect'),
        b: failure('connect'),
        c: failure(reason, { status: 500 } as never),
      });
      const result = await s.run();
      if (result.ok || result.error === 'client_gone') throw new Error('expected an error');
      expect([result.error.status, result.error.code]).toEqual([502, code]);
    }
  });

  it('a client that went away stops the failover and leaves nothing to answer', async () => {
    const s = setup();
    const controller = new AbortController();
    s.script({
      a: () => {
        controller.abort();
        return failure('aborted')();
      },
    });
    const result = await s.run(controller.signal);
    expect(result).toMatchObject({ ok: false, error: 'client_gone', attempts: 1 });
    expect(s.sent).toHaveLength(1);
    expect(s.upstream('a').breaker.state).toBe('closed');
  });
});

describe('the routing store', () => {
  const good = (url: string) =>
    `upstreams: { a: { url: "${url}", breaker: { failures: 1, cooldown: 1m } } }\nroutes: [{ targets: [{ upstream: a }] }]`;

  it('applies a valid change, keeps the routing in force on an invalid one, and says why', async () => {
    let text = good('http://one');
    const initial = parseRoutingText(text, '/r.yaml', {});
    if (!initial.ok) throw new Error('bad fixture');
    const registry = new Registry();
    const metrics = createRoutingMetrics(registry);
    const upstreams = new UpstreamRegistry(Date.now, {
      breakerChanged: () => {},
      inFlightChanged: () => {},
      retired: () => {},
    });
    const store = createRoutingStore({
      initial: initial.routing,
      file: '/r.yaml',
      env: {},
      upstreams,
      metrics,
      logger: silent,
      readText: async () => text,
    });
    const first = store.current()!;
    // A breaker opened under the first routing survives a reload that keeps the upstream's URL.
    const a = first.upstreams.get('a')!;
    a.breaker.settle(a.breaker.tryAcquire()!, 'failure');
    expect(a.breaker.state).toBe('open');

    text = text.replace('routes:', 'settings: { deadline: 5s }\nroutes:');
    await store.reload();
    const second = store.current()!;
    expect(second).not.toBe(first);
    expect(second.settings.deadline).toBe(5_000);
    expect(second.upstreams.get('a')).toBe(a);
    expect(store.view()).toMatchObject({ valid: true, generation: 2, problems: [] });

    text = 'upstreams: {}\nroutes: []';
    await store.reload();
    await store.reload();
    expect(store.current()).toBe(second);
    expect(store.view()).toMatchObject({
      valid: false,
      generation: 2,
      problems: [
        'ROUTING_FILE upstreams: must define at least one upstream',
        'ROUTING_FILE routes: must list at least one route',
      ],
    });
    const reloads = await registry.getSingleMetric('modelgate_routing_reloads_total')!.get();
    expect(Object.fromEntries(reloads.values.map((v) => [v.labels.result, v.value]))).toEqual({
      applied: 1,
      unchanged: 0,
      rejected: 1,
    });
    expect((await registry.getSingleMetric('modelgate_routing_file_valid')!.get()).values[0]!.value).toBe(0);

    text = good('http://two');
    await store.reload();
    expect(store.view()).toMatchObject({ valid: true, generation: 3 });
    expect(store.current()!.upstreams.get('a')).not.toBe(a);
    expect(store.current()!.upstreams.get('a')!.breaker.state).toBe('closed');
  });
});

describe('payloadFor', () => {
  it('writes what { ...body, model } would, and leaves the body as it was (property)', () => {
    const body = fc.dictionary(
      fc.oneof(fc.constantFrom('model', 'messages', 'stream', '__proto__', '0', '1'), fc.string()),
      fc.jsonValue({ maxDepth: 2 }),
    );
    fc.assert(
      fc.property(body, fc.string(), (input, model) => {
        const before = JSON.stringify(input);
        const keys = Object.keys(input);
        expect(payloadFor(input, model).toString('utf8')).toBe(JSON.stringify({ ...input, model }));
        expect(JSON.stringify(input)).toBe(before);
        expect(Object.keys(input)).toEqual(keys);
      }),
    );
  });
});

// The two hooks of the routing a limiter and a usage ledger build on: an admission asked before anything goes
// upstream, and one outcome per admitted request once its answer is complete.
import http from 'node:http';
import { ApiError } from '../../../app/http/errors';
import type { RoutingOutcome } from '../../../app/api/routing/outcome';
import type { RouteRequest } from '../../../app/api/routing/routing-service';
import { startApi, type ApiHarness } from '../../support/api/api-harness';
import { UpstreamServer } from '../../support/api/upstream-server';
import { eventually } from '../../support/wait';

jest.setTimeout(60_000);

class TestLimitError extends ApiError {
  readonly status = 429;
  readonly type = 'rate_limit_error';
}

describe('routing hooks: admission before forwarding, an outcome per admitted request', () => {
  let upstream: UpstreamServer;
  let h: ApiHarness;
  let caller: { userId: string; key: string; keyId: string };
  const outcomes: RoutingOutcome[] = [];
  const admitted: RouteRequest[] = [];
  /** What the admission does with the next request; by default it lets it through. */
  let admission: (request: RouteRequest, res: http.ServerResponse) => void | Promise<void> = () => undefined;
  const hi = [{ role: 'user', content: 'hi' }];

  beforeAll(async () => {
    upstream = await new UpstreamServer().start();
    h = await startApi({
      env: { UPSTREAM_URL: upstream.url },
      hooks: {
        admit: async (request, res) => {
          admitted.push(request);
          await admission(request, res);
        },
        onOutcome: (outcome) => outcomes.push(outcome),
      },
    });
    caller = await h.createUser();
  });
  afterAll(async () => {
    await h.close();
    await upstream.close();
  });
  beforeEach(() => {
    outcomes.length = 0;
    admitted.length = 0;
    admission = () => undefined;
  });

  const lastOutcome = () => eventually(() => (outcomes.length > 0 ? outcomes.at(-1) : undefined), 5_000);

  it("an admitted request's rate-limit headers are the gateway's, not the upstream's of the same name", async () => {
    upstream.headers = { 'x-ratelimit-limit-requests': '10000', 'x-ratelimit-limit-tokens': '2000000' };
    admission = (_request, res) => {
      res.setHeader('x-ratelimit-limit-requests', '50');
    };
    try {
      const res = await h.request('POST', '/v1/chat/completions', {
        key: caller.key,
        body: { model: 'mistral-31-24b', messages: hi },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ratelimit-limit-requests')).toBe('50');
      // A header the gateway did not set still passes from the upstream.
      expect(res.headers.get('x-ratelimit-limit-tokens')).toBe('2000000');
    } finally {
      upstream.headers = {};
    }
  });

  it('an admission that refuses answers the client with its error and headers; nothing goes upstream', async () => {
    const before = upstream.requests.length;
    admission = (_request, res) => {
      res.setHeader('x-ratelimit-remaining-requests', '0');
      res.setHeader('retry-after', '7');
      throw new TestLimitError('Rate limit reached for requests; retry after 7 s.', {
        code: 'rate_limit_exceeded',
      });
    };
    const res = await h.request('POST', '/v1/chat/completions', {
      key: caller.key,
      body: { model: 'mistral-31-24b', messages: hi },
    });
    expect(res.status).toBe(429);
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(res.headers.get('retry-after')).toBe('7');
    expect(res.body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    expect(upstream.requests.length).toBe(before);
    // The admission saw who asked for what.
    expect(admitted).toEqual([
      expect.objectContaining({
        caller: { userId: caller.userId, keyId: caller.keyId },
        endpoint: 'chat',
        model: expect.objectContaining({ id: 'mistral-31-24b' }),
        stream: false,
      }),
    ]);
    // Refused before routing: there is no outcome to settle.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(outcomes).toEqual([]);
  });

  it('an admission may add to the body sent upstream (here: ask a stream for its usage)', async () => {
    admission = (request) => {
      request.body.stream_options = { include_usage: true };
    };
    const res = await h.request('POST', '/v1/chat/completions', {
      key: caller.key,
      body: { model: 'mistral-31-24b', messages: hi, stream: true },
    });
    expect(res.status).toBe(200);
    expect(upstream.requests.at(-1)!.body.stream_options).toEqual({ include_usage: true });
    expect(await lastOutcome()).toMatchObject({
      endpoint: 'chat',
      stream: true,
      result: 'ok',
      usage: { prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 },
      timeToFirstTokenMs: expect.any(Number),
    });
  });

  it('an answered completion: caller, model, upstream, status, usage and timings', async () => {
    const res = await h.request('POST', '/v1/chat/completions', {
      key: caller.key,
      body: { model: 'mistral-31-24b', messages: hi },
    });
    expect(res.status).toBe(200);
    const outcome = await lastOutcome();
    expect(outcome).toEqual({
      caller: { userId: caller.userId, keyId: caller.keyId },
      requestId: res.headers.get('x-request-id'),
      endpoint: 'chat',
      model: 'mistral-31-24b',
      stream: false,
      upstream: 'default',
      upstreamModel: upstream.requests.at(-1)!.body.model,
      status: 200,
      result: 'ok',
      reason: null,
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
      body: { model: 'mistral-31-24b', messages: hi },
      answer: { kind: 'json', chunks: expect.any(Array) },
      attempts: 1,
      failovers: 0,
      timeToFirstByteMs: expect.any(Number),
      timeToFirstTokenMs: null,
      durationMs: expect.any(Number),
    });
    // The answer is kept for a token estimate, should the upstream report no usage.
    expect(Buffer.concat(outcome.answer!.kind === 'json' ? outcome.answer!.chunks : []).toString()).toContain(
      '"choices"',
    );
    expect(outcome.durationMs).toBeGreaterThanOrEqual(outcome.timeToFirstByteMs!);
  });

  it('embeddings have an outcome with their usage too', async () => {
    const res = await h.request('POST', '/v1/embeddings', {
      key: caller.key,
      body: { model: 'text-embedding', input: ['a', 'b', 'c'] },
    });
    expect(res.status).toBe(200);
    expect(await lastOutcome()).toMatchObject({
      endpoint: 'embeddings',
      model: 'text-embedding',
      result: 'ok',
      usage: { prompt_tokens: 6, total_tokens: 6 },
    });
  });

  it('a request no upstream answered has a failed outcome with the status the client got', async () => {
    upstream.fail = 503;
    try {
      const res = await h.request('POST', '/v1/chat/completions', {
        key: caller.key,
        body: { model: 'mistral-31-24b', messages: hi },
      });
      expect(res.status).toBe(502);
      expect(await lastOutcome()).toMatchObject({
        status: 502,
        result: 'failed',
        upstream: null,
        usage: null,
        attempts: 1,
        timeToFirstByteMs: null,
      });
    } finally {
      upstream.fail = undefined;
    }
  });

  it('a client that leaves while it is being admitted: nothing goes upstream, its outcome says aborted', async () => {
    const before = upstream.requests.length;
    let left!: () => void;
    const gone = new Promise<void>((resolve) => (left = resolve));
    admission = (_request, res) =>
      new Promise<void>((resolve) => {
        res.once('close', () => {
          left();
          resolve();
        });
      });
    const request = http.request(`${h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${caller.key}`, 'content-type': 'application/json' },
    });
    request.on('error', () => undefined);
    request.end(JSON.stringify({ model: 'mistral-31-24b', messages: hi }));
    await eventually(() => (admitted.length > 0 ? true : undefined), 5_000, 'the admission');
    request.destroy();
    await gone;
    expect(await lastOutcome()).toMatchObject({ result: 'aborted', status: 499, upstream: null });
    expect(upstream.requests.length).toBe(before);
    const metrics = await h.registry.metrics();
    expect(metrics).not.toMatch(/modelgate_upstream_in_flight\{upstream="default"\} [1-9]/);
  });
});

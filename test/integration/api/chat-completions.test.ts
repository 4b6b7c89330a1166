import http from 'node:http';
import net from 'node:net';
import { expectNoSecretsLogged, startApi, type ApiHarness } from '../../support/api/api-harness';
import { UpstreamServer } from '../../support/api/upstream-server';
import { until } from '../../support/wait';

const UPSTREAM_KEY = 'upstream-secret-key-0123456789abcdef';

jest.setTimeout(60_000);

describe('POST /chat/completions through a real upstream server', () => {
  let upstream: UpstreamServer;
  let h: ApiHarness;
  let key: string;
  const hi = [{ role: 'user', content: 'hi' }];

  beforeAll(async () => {
    upstream = await new UpstreamServer().start();
    h = await startApi({
      env: {
        UPSTREAM_URL: `${upstream.url}/`,
        UPSTREAM_API_KEY: UPSTREAM_KEY,
        UPSTREAM_TIMEOUT: '1s',
        DEFAULT_MODEL: 'llama 3.3 70b',
      },
    });
    h.secrets.push(UPSTREAM_KEY);
    ({ key } = await h.createUser());
  });
  afterAll(async () => {
    expectNoSecretsLogged(h);
    await h.close();
    await upstream.close();
  });

  it('forwards with the upstream id, X-Request-Id and the upstream key, and returns the JSON answer', async () => {
    const res = await h.request('POST', '/v1/chat/completions', {
      key,
      headers: { 'x-request-id': 'req-42' },
      body: { model: 'mistral-31-24b', messages: hi, temperature: 0.2 },
    });
    expect(res.status).toBe(200);
    expect(res.body.choices[0].message.content).toBe('echo: hi');
    // The model as asked, not the upstream id; the edited body has a Content-Length of its own, not chunks.
    expect(res.body.model).toBe('mistral-31-24b');
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(res.text)));
    expect(res.headers.get('transfer-encoding')).toBeNull();
    const seen = upstream.requests.at(-1)!;
    expect(seen.body).toEqual({ model: '0x' + 'a'.repeat(64), messages: hi, temperature: 0.2 });
    expect(seen.headers['x-request-id']).toBe('req-42');
    expect(seen.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
  });

  it('resolves by upstream id too, and uses DEFAULT_MODEL when the model is missing', async () => {
    await h.request('POST', '/api/v1/chat/completions', {
      key,
      body: { model: '0x' + 'c'.repeat(64), messages: hi },
    });
    expect(upstream.requests.at(-1)!.body.model).toBe('0x' + 'c'.repeat(64));
    const res = await h.request('POST', '/api/v1/chat/completions', { key, body: { messages: hi } });
    expect(res.status).toBe(200);
    expect(upstream.requests.at(-1)!.body.model).toBe('0x' + 'b'.repeat(64));
  });

  it('unknown model: 404 with near misses and nothing forwarded', async () => {
    const before = upstream.requests.length;
    const res = await h.request('POST', '/v1/chat/completions', {
      key,
      body: { model: 'mistral-31-24', messages: hi },
    });
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: 'model_not_found', param: 'model' });
    expect(res.body.error.suggestions[0]).toBe('mistral-31-24b');
    expect(upstream.requests.length).toBe(before);
  });

  it('an embedding model is a 400; a body without messages is a 400 naming the field', async () => {
    const embedding = await h.request('POST', '/v1/chat/completions', {
      key,
      body: { model: 'text-embedding', messages: hi },
    });
    expect(embedding.status).toBe(400);
    expect(embedding.body.error.code).toBe('model_not_supported');
    const invalid = await h.request('POST', '/v1/chat/completions', {
      key,
      body: { model: 'mistral-31-24b', messages: [{}] },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.param).toBe('messages[0].role');
  });

  it('malformed JSON is a 400 and a body over BODY_LIMIT a 413', async () => {
    const malformed = await h.request('POST', '/v1/chat/completions', {
      key,
      raw: '{"messages": [',
      headers: { 'content-type': 'application/json' },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('invalid_json');
    const big = await h.request('POST', '/v1/chat/completions', {
      key,
      body: { model: 'mistral-31-24b', messages: [{ role: 'user', content: 'x'.repeat(70_000) }] },
    });
    expect(big.status).toBe(413);
  });

  it('streams SSE through unchanged', async () => {
    const res = await h.request('POST', '/v1/chat/completions', {
      key,
      body: { model: 'mistral-31-24b', messages: hi, stream: true },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = res.text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events.slice(0, 3).map((e) => JSON.parse(e.slice(6)).choices[0].delta.content)).toEqual([
      'part1 ',
      'part2 ',
      'part3 ',
    ]);
  });

  /**
   * POSTs a chat completion with node:http, which leaves the body as it came (fetch would decode it) and reports
   * each chunk of a chunked body as a 'data' event of its own (`chunks`).
   */
  function rawChat(body: Record<string, unknown>) {
    return new Promise<{ headers: http.IncomingHttpHeaders; text: string; chunks: number }>(
      (resolve, reject) => {
        const req = http.request(`${h.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        });
        req.on('response', (res) => {
          const parts: Buffer[] = [];
          res.on('data', (chunk: Buffer) => parts.push(chunk));
          res.on('end', () =>
            resolve({
              headers: res.headers,
              text: Buffer.concat(parts).toString('utf8'),
              chunks: parts.length,
            }),
          );
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(JSON.stringify(body));
      },
    );
  }

  it('passes the events of one upstream read on in one write, not a chunk per event', async () => {
    // The upstream writes BURST_EVENTS events one by one in one turn of its event loop; they reach the gateway in
    // one read.
    const { chunks, text } = await rawChat({ model: 'burst-model', messages: hi, stream: true });
    const events = text.split('\n\n').filter(Boolean);
    expect(events).toHaveLength(UpstreamServer.BURST_EVENTS + 1);
    expect(events.slice(0, -1).map((e) => JSON.parse(e.slice(6)).model)).toEqual(
      Array(UpstreamServer.BURST_EVENTS).fill('burst-model'),
    );
    // One chunk per event would be BURST_EVENTS of them; a read split by the network adds one or two at most.
    expect(chunks).toBeLessThan(UpstreamServer.BURST_EVENTS / 4);
  });

  it('decodes a gzip-compressed answer to rewrite it, streamed or not, and sends it on uncompressed', async () => {
    const streamed = await rawChat({ model: 'gzip-model', messages: hi, stream: true });
    expect(streamed.headers['content-encoding']).toBeUndefined();
    const events = streamed.text.split('\n\n').filter(Boolean);
    // The gateway asked for usage itself; the client did not, so that event is not passed on.
    expect(events).toHaveLength(3);
    expect(events.slice(0, 2).map((e) => JSON.parse(e.slice(6)))).toEqual([
      expect.objectContaining({ model: 'gzip-model', choices: [{ index: 0, delta: { content: 'part1 ' } }] }),
      expect.objectContaining({ model: 'gzip-model', choices: [{ index: 0, delta: { content: 'part2 ' } }] }),
    ]);
    expect(events[2]).toBe('data: [DONE]');
    const plain = await rawChat({ model: 'gzip-model', messages: hi });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(plain.text)).toEqual({
      object: 'chat.completion',
      model: 'gzip-model',
      choices: [],
      usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 },
    });
  });

  it('passes an answer in an encoding it cannot decode on as it came, with its Content-Encoding', async () => {
    const streamed = await rawChat({ model: 'zstd-model', messages: hi, stream: true });
    expect(streamed.headers['content-encoding']).toBe('zstd');
    // Not rewritten: the upstream's own model name stays.
    expect(streamed.text).toContain('"model":"behaviour:zstd"');
    expect(streamed.text.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('a client that disconnects mid-stream aborts the upstream call', async () => {
    const before = upstream.requests.length;
    await new Promise<void>((resolve, reject) => {
      const body = JSON.stringify({ model: 'endless-model', messages: hi, stream: true });
      const req = http.request(`${h.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      });
      req.on('response', (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
      req.end(body);
    });
    const seen = upstream.requests[before]!;
    await expect(seen.aborted).resolves.toBeUndefined();
    expect(seen.wasAborted).toBe(true);
  });

  it('passes the stream on with backpressure: a client that stops reading stops the upstream', async () => {
    let received = 0;
    let response!: http.IncomingMessage;
    await new Promise<void>((resolve, reject) => {
      const req = http.request(`${h.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      });
      req.on('response', (res) => {
        response = res;
        res.pause();
        resolve();
      });
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'flood-model', messages: hi, stream: true }));
    });
    // The client reads nothing: the upstream's writes must stall well before the whole body is out.
    let last = -1;
    let still = 0;
    const deadline = Date.now() + 20_000;
    while (still < 5 && Date.now() < deadline && upstream.floodWritten < UpstreamServer.FLOOD_BYTES) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      still = upstream.floodWritten === last ? still + 1 : 0;
      last = upstream.floodWritten;
    }
    expect(upstream.floodWritten).toBeLessThan(UpstreamServer.FLOOD_BYTES / 2);
    await new Promise<void>((resolve, reject) => {
      response.on('data', (chunk: Buffer) => (received += chunk.length));
      response.on('end', resolve);
      response.on('error', reject);
      response.resume();
    });
    expect(received).toBe(UpstreamServer.FLOOD_BYTES);
  });

  it("sends a stream's headers as soon as the upstream's, and a JSON answer's with its body", async () => {
    /** Asks `held-model` (the upstream sends its headers, then waits); tells whether ours arrived before its body. */
    const ask = (stream: boolean) => {
      let released = false;
      let responded!: () => void;
      const headers = new Promise<void>((resolve) => (responded = resolve));
      const answer = new Promise<{ headersBeforeBody: boolean; status: number; text: string }>(
        (resolve, reject) => {
          const req = http.request(`${h.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          });
          req.on('response', (res) => {
            const headersBeforeBody = !released;
            responded();
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (text += chunk));
            res.on('end', () => resolve({ headersBeforeBody, status: res.statusCode ?? 0, text }));
            res.on('error', reject);
          });
          req.on('error', reject);
          req.end(JSON.stringify({ model: 'held-model', messages: hi, stream }));
        },
      );
      const release = () => {
        released = true;
        upstream.releaseHeld();
      };
      return { headers, answer, release };
    };

    const streamed = ask(true);
    await upstream.headersHeld();
    await streamed.headers; // before the upstream sent a byte of its body
    streamed.release();
    expect(await streamed.answer).toMatchObject({ headersBeforeBody: true, status: 200 });
    expect((await streamed.answer).text).toContain('data: [DONE]');

    const plain = ask(false);
    await upstream.headersHeld();
    // The upstream's headers are out; the gateway holds its own until the body comes.
    await new Promise((resolve) => setTimeout(resolve, 300));
    plain.release();
    const answer = await plain.answer;
    expect(answer).toMatchObject({ headersBeforeBody: false, status: 200 });
    expect(JSON.parse(answer.text)).toEqual({ object: 'chat.completion', choices: [] });
  });

  it('a JSON answer the upstream cuts short fails at the client, never a truncated 200', async () => {
    // An app of its own: the failure counts against the upstream's breaker, which the other cases share.
    const own = await startApi({ database: h.database, env: { UPSTREAM_URL: upstream.url } });
    try {
      const outcome = await new Promise<string>((resolve) => {
        const req = http.request(`${own.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        });
        req.on('response', (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve(`complete ${res.statusCode}: ${text}`));
          res.on('error', () => resolve('failed'));
          res.on('aborted', () => resolve('failed'));
        });
        req.on('error', () => resolve('failed'));
        req.end(JSON.stringify({ model: 'cut-model', messages: hi }));
      });
      expect(outcome).toBe('failed');
      const broken =
        /modelgate_upstream_errors_total\{upstream="default",model="cut-model",reason="broken"\} 1/;
      expect(await until(async () => broken.test(await own.registry.metrics()), 5_000)).toBe(true);
    } finally {
      await own.close();
    }
  });

  it('a client that disconnects before the upstream answered aborts the upstream call too', async () => {
    const patient = await startApi({
      database: h.database,
      env: { UPSTREAM_URL: upstream.url, UPSTREAM_TIMEOUT: '10m' },
    });
    try {
      const before = upstream.requests.length;
      const req = http.request(`${patient.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      });
      req.on('error', () => undefined);
      req.end(JSON.stringify({ model: 'hang-model', messages: hi }));
      const deadline = Date.now() + 10_000;
      while (upstream.requests.length === before && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      req.destroy();
      // Only the disconnect can end it: the upstream never answers and the timeout is ten minutes.
      await upstream.requests[before]!.aborted;
      expect(upstream.requests[before]!.wasAborted).toBe(true);
    } finally {
      await patient.close();
    }
  });

  it('an upstream that does not answer within UPSTREAM_TIMEOUT is a 504, and is aborted', async () => {
    const before = upstream.requests.length;
    const res = await h.request('POST', '/v1/chat/completions', {
      key,
      body: { model: 'hang-model', messages: hi },
    });
    expect(res.status).toBe(504);
    expect(res.body.error).toMatchObject({ type: 'upstream_error', code: 'upstream_timeout' });
    await upstream.requests[before]!.aborted;
  });

  it.each([
    ['failing-model', 502, 'upstream_error'],
    ['dropping-model', 502, 'upstream_unreachable'],
    ['unauthorized-model', 502, 'upstream_auth_failed'],
    ['limited-model', 429, 'upstream_rate_limited'],
  ])('%s: upstream failure becomes %i %s', async (model, status, code) => {
    const res = await h.request('POST', '/v1/chat/completions', { key, body: { model, messages: hi } });
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
  });

  it('counts upstream calls and failures in the Prometheus registry', async () => {
    const metrics = await h.registry.metrics();
    const of = (model: string) => `upstream="default",model="${model}"`;
    expect(metrics).toContain(`modelgate_upstream_errors_total{${of('hang-model')},reason="timeout"} 1`);
    expect(metrics).toMatch(
      /modelgate_upstream_errors_total\{upstream="default",model="failing-model",reason="status_5xx"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /modelgate_upstream_errors_total\{upstream="default",model="endless-model",reason="aborted"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /modelgate_upstream_request_duration_seconds_count\{upstream="default",model="mistral-31-24b",status_code="200"\} [1-9]/,
    );
  });

  it('retries once when a kept-alive upstream connection turns out to be closed', async () => {
    // A raw upstream: on its first connection it answers one request, then resets the connection when the second
    // arrives (what a keep-alive race looks like); every other connection answers normally.
    let connections = 0;
    const answer = (socket: net.Socket) =>
      socket.write(
        'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n{}',
      );
    const raw = net.createServer((socket) => {
      connections += 1;
      const first = connections === 1;
      let requests = 0;
      let buffered = '';
      socket.on('data', (chunk) => {
        buffered += chunk.toString('latin1');
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(buffered.slice(0, end))?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        buffered = buffered.slice(end + 4 + length);
        requests += 1;
        if (first && requests === 2) socket.resetAndDestroy();
        else answer(socket);
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const racy = await startApi({
      database: h.database,
      env: { UPSTREAM_URL: `http://127.0.0.1:${(raw.address() as net.AddressInfo).port}` },
    });
    try {
      const ask = () =>
        racy.request('POST', '/v1/chat/completions', {
          key,
          body: { model: 'mistral-31-24b', messages: hi },
        });
      expect((await ask()).status).toBe(200);
      expect((await ask()).status).toBe(200);
      expect(connections).toBe(2);
    } finally {
      await racy.close();
      await new Promise((resolve) => raw.close(resolve));
    }
  });

  it('an unreachable upstream is a 502 and no UPSTREAM_URL a 503', async () => {
    const closed = new UpstreamServer();
    await closed.start();
    const url = closed.url;
    await closed.close();
    const down = await startApi({ database: h.database, env: { UPSTREAM_URL: url } });
    const none = await startApi({ database: h.database });
    try {
      const res = await down.request('POST', '/v1/chat/completions', {
        key,
        body: { model: 'mistral-31-24b', messages: hi },
      });
      expect(res.status).toBe(502);
      expect(res.body.error.code).toBe('upstream_unreachable');
      const off = await none.request('POST', '/v1/chat/completions', {
        key,
        body: { model: 'mistral-31-24b', messages: hi },
      });
      expect(off.status).toBe(503);
      expect(off.body.error.message).toContain('UPSTREAM_URL');
    } finally {
      await down.close();
      await none.close();
    }
  });

  it('without DEFAULT_MODEL a missing model is a 400 naming model', async () => {
    const noDefault = await startApi({ database: h.database, env: { UPSTREAM_URL: upstream.url } });
    try {
      const res = await noDefault.request('POST', '/v1/chat/completions', { key, body: { messages: hi } });
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe('model');
    } finally {
      await noDefault.close();
    }
  });

  it('UPSTREAM_MODEL_FIELD=name sends the public name', async () => {
    const byName = await startApi({
      database: h.database,
      env: { UPSTREAM_URL: upstream.url, UPSTREAM_MODEL_FIELD: 'name' },
    });
    try {
      await byName.request('POST', '/v1/chat/completions', {
        key,
        body: { model: 'meta/llama:8b', messages: hi },
      });
      expect(upstream.requests.at(-1)!.body.model).toBe('meta/llama:8b');
    } finally {
      await byName.close();
    }
  });
});

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';

export interface RecordedRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  /** Resolves when the gateway closed the connection before the response ended. */
  aborted: Promise<void>;
  wasAborted: boolean;
}

/**
 * An OpenAI-compatible upstream for tests. The `model` it receives picks the behaviour:
 *  - anything else: a chat.completion echoing the model and the last user message;
 *  - `...stream` or stream:true: SSE chunks, then [DONE];
 *  - `behaviour:endless`: SSE chunks forever (until the client goes away);
 *  - `behaviour:hang`: never answers;
 *  - `behaviour:500`, `behaviour:401`, `behaviour:429`: that status with an OpenAI-style error;
 *  - `behaviour:drop`: destroys the socket without answering;
 *  - `behaviour:flood`: 64 MiB of SSE events, written only as fast as the reader drains it;
 *  - `behaviour:burst`: BURST_EVENTS SSE chunks, each its own write, all in one turn of the event loop, then [DONE];
 *  - `behaviour:gzip`, `behaviour:zstd`: the answer (SSE with stream:true, else JSON, with usage and no
 *    Content-Length) gzip-compressed, in small flushed pieces; or marked `content-encoding: zstd`, which the
 *    gateway cannot decode;
 *  - `behaviour:held`: the status and headers at once (JSON, or SSE with stream:true), the body only on
 *    `releaseHeld()`.
 *  - `behaviour:break`: one SSE chunk, then the connection is cut.
 *  - `behaviour:cut`: a JSON answer's headers with its Content-Length and half its body, then the connection is cut.
 * POST /v1/embeddings answers an embeddings list for the model it was sent. `fail` makes every request answer that
 * status (with `retryAfter` seconds, if set), `hang` makes every request wait forever; `name` is echoed in the
 * `x-test-upstream` header so tests can tell upstreams apart. Streams end with a usage chunk when the request asked
 * for `stream_options.include_usage`.
 */
export class UpstreamServer {
  readonly requests: RecordedRequest[] = [];
  /** Answer every request with this status (an OpenAI-style error); undefined: behave normally. */
  fail: number | undefined;
  retryAfter: number | undefined;
  hang = false;
  /** Milliseconds before each answer starts. */
  delayMs = 0;
  /** Extra headers on every answer (an upstream's own rate-limit headers, say). */
  headers: Record<string, string> = {};
  constructor(readonly name = 'upstream') {}
  /** Bytes the `behaviour:flood` response has handed to its socket so far. */
  floodWritten = 0;
  static readonly FLOOD_BYTES = 64 * 1024 * 1024;
  static readonly BURST_EVENTS = 20;
  /** Bodies of `behaviour:held` responses whose headers are out, waiting for releaseHeld(). */
  private held: (() => void)[] = [];
  private server = http.createServer((req, res) => this.handle(req, res));
  url = '';

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Resolves when a `behaviour:held` response has sent its headers (to the socket) and waits for its body. */
  async headersHeld(): Promise<void> {
    while (this.held.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /** Writes the bodies of the held responses. */
  releaseHeld(): void {
    for (const release of this.held.splice(0)) release();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        res.writeHead(400).end();
        return;
      }
      let markAborted!: () => void;
      const record: RecordedRequest = {
        path: req.url ?? '',
        headers: req.headers,
        body,
        aborted: new Promise<void>((resolve) => (markAborted = resolve)),
        wasAborted: false,
      };
      res.on('close', () => {
        if (!res.writableFinished) {
          record.wasAborted = true;
          markAborted();
        }
      });
      this.requests.push(record);
      res.setHeader('x-test-upstream', this.name);
      for (const [name, value] of Object.entries(this.headers)) res.setHeader(name, value);
      if (this.hang) return;
      const route = req.method === 'POST' ? req.url : undefined;
      if (route !== '/v1/chat/completions' && route !== '/v1/embeddings') {
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end('{"error":{"message":"no such route"}}');
        return;
      }
      const answer = () => {
        if (res.destroyed) return;
        if (this.fail !== undefined) {
          const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json' };
          if (this.retryAfter !== undefined) headers['retry-after'] = String(this.retryAfter);
          res.writeHead(this.fail, headers).end(
            JSON.stringify({
              error: { message: `${this.name} fails on purpose`, type: 'test', code: null },
            }),
          );
        } else if (route === '/v1/embeddings') this.embeddings(body, res);
        else this.respond(body, res);
      };
      if (this.delayMs > 0) setTimeout(answer, this.delayMs);
      else answer();
    });
  }

  private respond(body: Record<string, unknown>, res: http.ServerResponse): void {
    const model = String(body.model);
    const error = (status: number, message: string): void => {
      res
        .writeHead(status, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { message, type: 'upstream_test', code: null, param: null } }));
    };
    switch (model) {
      case 'behaviour:hang':
        return;
      case 'behaviour:drop':
        res.socket?.destroy();
        return;
      case 'behaviour:500':
        return error(500, 'upstream exploded');
      case 'behaviour:401':
        return error(401, 'bad upstream key');
      case 'behaviour:429':
        return error(429, 'slow down');
      case 'behaviour:endless':
        return this.stream(res, model, Infinity);
      case 'behaviour:flood':
        return this.flood(res);
      case 'behaviour:burst':
        return this.burst(res, model);
      case 'behaviour:gzip':
      case 'behaviour:zstd':
        return this.encoded(res, model, body.stream === true);
      case 'behaviour:held':
        return this.hold(res, body.stream === true);
      case 'behaviour:break':
        return this.stream(res, model, 1, { breakAfter: 1 });
      case 'behaviour:cut':
        return this.cut(res);
    }
    if (body.stream === true) {
      const options = body.stream_options as { include_usage?: boolean } | undefined;
      return this.stream(res, model, 3, { usage: options?.include_usage === true });
    }
    const messages = (body.messages as { content?: unknown }[] | undefined) ?? [];
    // With its Content-Length, as most upstreams send a JSON answer (`behaviour:held` sends one without).
    const answer = JSON.stringify({
      id: 'chatcmpl-test',
      object: 'chat.completion',
      created: 1_700_000_000,
      model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: `echo: ${String(messages.at(-1)?.content ?? '')}` },
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    });
    res
      .writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) })
      .end(answer);
  }

  private cut(res: http.ServerResponse): void {
    const answer = JSON.stringify({ object: 'chat.completion', model: 'behaviour:cut', choices: [] });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
    res.write(answer.slice(0, answer.length / 2), () => res.socket?.destroy());
  }

  private hold(res: http.ServerResponse, stream: boolean): void {
    res.writeHead(200, { 'content-type': stream ? 'text/event-stream' : 'application/json' });
    res.flushHeaders();
    this.held.push(() =>
      res.end(
        stream ? 'data: {"choices":[]}\n\ndata: [DONE]\n\n' : '{"object":"chat.completion","choices":[]}',
      ),
    );
  }

  /**
   * 64 MiB of events as fast as the gateway accepts them: write() until it says stop, then wait for 'drain'. The
   * events carry no model, so the gateway passes their bytes on as they are.
   */
  private flood(res: http.ServerResponse): void {
    this.floodWritten = 0;
    const event = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'a'.repeat(1000) } }] })}\n\n`;
    const chunk = Buffer.alloc(256 * 1024, 'a');
    // 256 KiB of whole events; the rest of the chunk pads the last one's content.
    const events = Math.floor(chunk.length / event.length);
    chunk.write(event.repeat(events - 1));
    chunk.write(`data: {"choices":[{"index":0,"delta":{"content":"`, (events - 1) * event.length);
    const end = '"}}]}\n\n';
    chunk.write(end, chunk.length - end.length);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const pump = () => {
      while (this.floodWritten < UpstreamServer.FLOOD_BYTES) {
        this.floodWritten += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  }

  private encoded(res: http.ServerResponse, model: string, stream: boolean): void {
    const usage = { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 };
    const parts = stream
      ? [
          ...['part1 ', 'part2 '].map(
            (content) =>
              `data: ${JSON.stringify({ object: 'chat.completion.chunk', model, choices: [{ index: 0, delta: { content } }] })}\n\n`,
          ),
          `data: ${JSON.stringify({ object: 'chat.completion.chunk', model, choices: [], usage })}\n\n`,
          'data: [DONE]\n\n',
        ]
      : [JSON.stringify({ object: 'chat.completion', model, choices: [], usage })];
    const type = stream ? 'text/event-stream' : 'application/json';
    if (model === 'behaviour:zstd') {
      res.writeHead(200, { 'content-type': type, 'content-encoding': 'zstd' }).end(parts.join(''));
      return;
    }
    res.writeHead(200, { 'content-type': type, 'content-encoding': 'gzip' });
    const gzip = zlib.createGzip();
    gzip.pipe(res);
    // Each part flushed on its own, so the gateway decodes the answer as it arrives, not in one piece.
    const next = (i: number): void => {
      if (i === parts.length) {
        gzip.end();
        return;
      }
      gzip.write(parts[i]!);
      gzip.flush(() => next(i + 1));
    };
    next(0);
  }

  private burst(res: http.ServerResponse, model: string): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (let i = 1; i <= UpstreamServer.BURST_EVENTS; i++)
      res.write(
        `data: ${JSON.stringify({ object: 'chat.completion.chunk', model, choices: [{ index: 0, delta: { content: `part${i} ` } }] })}\n\n`,
      );
    res.end('data: [DONE]\n\n');
  }

  private embeddings(body: Record<string, unknown>, res: http.ServerResponse): void {
    const inputs = Array.isArray(body.input) ? body.input : [body.input];
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        object: 'list',
        data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: [0.25, -0.5, index] })),
        model: body.model,
        usage: { prompt_tokens: inputs.length * 2, total_tokens: inputs.length * 2 },
      }),
    );
  }

  private stream(
    res: http.ServerResponse,
    model: string,
    count: number,
    options: { breakAfter?: number; usage?: boolean } = {},
  ): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let sent = 0;
    const chunk = (content: string, finish: string | null) =>
      `data: ${JSON.stringify({
        id: 'chatcmpl-test',
        object: 'chat.completion.chunk',
        created: 1_700_000_000,
        model,
        choices: [{ index: 0, delta: { content }, finish_reason: finish }],
      })}\n\n`;
    const tick = () => {
      if (res.destroyed) return;
      if (options.breakAfter !== undefined && sent >= options.breakAfter) {
        res.socket?.destroy();
        return;
      }
      if (sent >= count) {
        const usage = options.usage
          ? `data: ${JSON.stringify({ id: 'chatcmpl-test', object: 'chat.completion.chunk', created: 1_700_000_000, model, choices: [], usage: { prompt_tokens: 4, completion_tokens: count, total_tokens: 4 + count } })}\n\n`
          : '';
        res.end(`${chunk('', 'stop')}${usage}data: [DONE]\n\n`);
        return;
      }
      sent += 1;
      res.write(chunk(`part${sent} `, null));
      setTimeout(tick, count === Infinity ? 20 : 5);
    };
    tick();
  }
}

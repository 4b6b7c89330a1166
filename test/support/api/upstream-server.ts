import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
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
 *  - `behaviour:flood`: 64 MiB of body, written only as fast as the reader drains it;
 *  - `behaviour:held`: the status and headers at once (JSON, or SSE with stream:true), the body only on
 *    `releaseHeld()`.
 */
export class UpstreamServer {
  readonly requests: RecordedRequest[] = [];
  /** Bytes the `behaviour:flood` response has handed to its socket so far. */
  floodWritten = 0;
  static readonly FLOOD_BYTES = 64 * 1024 * 1024;
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
      if (req.url !== '/v1/chat/completions' || req.method !== 'POST') {
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end('{"error":{"message":"no such route"}}');
        return;
      }
      this.respond(body, res);
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
      case 'behaviour:held':
        return this.hold(res, body.stream === true);
    }
    if (body.stream === true) return this.stream(res, model, 3);
    const messages = (body.messages as { content?: unknown }[] | undefined) ?? [];
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
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
      }),
    );
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

  /** 64 MiB as fast as the gateway accepts it: write() until it says stop, then wait for 'drain'. */
  private flood(res: http.ServerResponse): void {
    this.floodWritten = 0;
    const chunk = Buffer.alloc(256 * 1024, 'a');
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

  private stream(res: http.ServerResponse, model: string, count: number): void {
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
      if (sent >= count) {
        res.end(`${chunk('', 'stop')}data: [DONE]\n\n`);
        return;
      }
      sent += 1;
      res.write(chunk(`part${sent} `, null));
      setTimeout(tick, count === Infinity ? 20 : 5);
    };
    tick();
  }
}

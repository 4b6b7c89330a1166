import http from 'node:http';
import https from 'node:https';
import type { Response } from 'express';
import type { Counter, Histogram } from 'prom-client';
import type { Logger } from '../../../core/logger';
import {
  ApiError,
  BadGatewayError,
  GatewayTimeoutError,
  ServiceUnavailableError,
  StatusError,
} from '../../http/errors';

export interface UpstreamMetrics {
  duration: Histogram<'status_code'>;
  errors: Counter<'reason'>;
}

export interface UpstreamProxyOptions {
  /** UPSTREAM_URL; undefined turns chat completions off (503). */
  url: string | undefined;
  apiKey: string | undefined;
  /** Until the upstream's response headers; then 504. */
  timeoutMs: number;
  logger: Logger;
  metrics: UpstreamMetrics;
}

export interface ForwardRequest {
  body: Record<string, unknown>;
  stream: boolean;
  requestId: string;
  res: Response;
}

const MAX_ERROR_BODY = 64 * 1024;
/** Response headers passed on from the upstream; framing headers are node's own business. */
const FORWARDED_HEADER = /^(content-type|content-encoding|openai-[a-z-]+|x-ratelimit-[a-z-]+)$/;

/**
 * Forwards chat completions to `${UPSTREAM_URL}/v1/chat/completions` with node's http client: the upstream body
 * is piped to the client (JSON or SSE, with backpressure), a client that goes away destroys the upstream request,
 * and failures before the first byte become OpenAI-style errors (504 timeout, 502 unreachable or 5xx).
 */
export class UpstreamProxy {
  private readonly target: URL | undefined;
  private readonly agent: http.Agent | undefined;

  constructor(private readonly options: UpstreamProxyOptions) {
    if (options.url) {
      this.target = new URL(`${options.url.replace(/\/+$/, '')}/v1/chat/completions`);
      const Agent = this.target.protocol === 'https:' ? https.Agent : http.Agent;
      this.agent = new Agent({ keepAlive: true });
    }
  }

  /** Throws before anything was sent when chat completions cannot work at all. */
  ensureConfigured(): void {
    if (!this.target) {
      throw new ServiceUnavailableError(
        'Chat completions are not available: this gateway has no upstream configured (UPSTREAM_URL is unset).',
        { code: 'upstream_not_configured' },
      );
    }
  }

  close(): void {
    this.agent?.destroy();
  }

  /** Resolves when the response is complete (or the client left); rejects with an ApiError before any byte. */
  forward(request: ForwardRequest): Promise<void> {
    this.ensureConfigured();
    const target = this.target!;
    const payload = Buffer.from(JSON.stringify(request.body));
    const headers: http.OutgoingHttpHeaders = {
      'content-type': 'application/json',
      'content-length': payload.length,
      accept: request.stream ? 'text/event-stream' : 'application/json',
      'x-request-id': request.requestId,
    };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    const transport = target.protocol === 'https:' ? https : http;
    const started = process.hrtime.bigint();
    const { metrics, logger } = this.options;
    const observe = (status: string) =>
      metrics.duration.observe({ status_code: status }, Number(process.hrtime.bigint() - started) / 1e9);

    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let answered = false;
      const settle = (error?: ApiError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      const fail = (reason: string, error: ApiError) => {
        metrics.errors.inc({ reason });
        if (!answered) observe('none');
        settle(error);
      };

      let upstream: http.ClientRequest;
      const timer = setTimeout(() => {
        upstream.destroy();
        fail(
          'timeout',
          new GatewayTimeoutError(
            `The upstream did not answer within ${this.options.timeoutMs} ms; try again later or with a smaller request.`,
            { code: 'upstream_timeout' },
          ),
        );
      }, this.options.timeoutMs);

      // The client went away (or the response ended): an unfinished upstream call is aborted.
      request.res.once('close', () => {
        if (request.res.writableFinished) return;
        if (!upstream.destroyed) {
          upstream.destroy();
          metrics.errors.inc({ reason: 'aborted' });
          if (!answered) observe('none');
        }
        settle();
      });

      const send = (attempt: number) => {
        upstream = transport.request(target, { method: 'POST', headers, agent: this.agent });
        upstream.on('error', (error: NodeJS.ErrnoException) => {
          if (settled) return;
          // A kept-alive connection the upstream had just closed: nothing reached it, so sending again is safe.
          if (attempt === 1 && upstream.reusedSocket && error.code === 'ECONNRESET' && !answered) {
            send(2);
            return;
          }
          logger.warn({ err: error, requestId: request.requestId }, 'upstream request failed');
          fail(
            'connect',
            new BadGatewayError(
              `Could not reach the upstream (${error.code ?? error.message}); try again later.`,
              {
                code: 'upstream_unreachable',
              },
            ),
          );
        });
        upstream.on('response', (upstreamRes) => {
          answered = true;
          clearTimeout(timer);
          const status = upstreamRes.statusCode ?? 502;
          upstreamRes.once('end', () => observe(String(status)));
          if (status >= 200 && status < 300) {
            this.pipe(upstreamRes, request, status, settle);
          } else {
            void this.refuse(upstreamRes, status, request.requestId).then((error) =>
              fail(status >= 500 ? 'status_5xx' : 'status_4xx', error),
            );
          }
        });
        upstream.end(payload);
      };
      send(1);
    });
  }

  private pipe(
    upstreamRes: http.IncomingMessage,
    request: ForwardRequest,
    status: number,
    settle: (error?: ApiError) => void,
  ): void {
    const { res } = request;
    res.status(status);
    for (const [name, value] of Object.entries(upstreamRes.headers)) {
      if (value !== undefined && FORWARDED_HEADER.test(name)) res.setHeader(name, value);
    }
    if (request.stream || String(upstreamRes.headers['content-type']).startsWith('text/event-stream')) {
      res.setHeader('Cache-Control', 'no-cache');
      res.setHeader('X-Accel-Buffering', 'no');
      // A streaming client learns at once that its stream started; a JSON answer's headers leave with its first
      // bytes, in the same write (flushing them apart costs a write per request for nothing the client can use).
      res.flushHeaders();
    }
    upstreamRes.once('close', () => {
      if (!upstreamRes.complete && !res.destroyed) {
        // The upstream broke off mid-body: the client must not take a truncated answer for a complete one.
        this.options.metrics.errors.inc({ reason: 'protocol' });
        this.options.logger.warn(
          { requestId: request.requestId },
          'upstream closed the response before its end',
        );
        res.destroy();
      }
      settle();
    });
    upstreamRes.pipe(res);
  }

  /** Reads a bounded error body and turns it into what the client should see. */
  private async refuse(
    upstreamRes: http.IncomingMessage,
    status: number,
    requestId: string,
  ): Promise<ApiError> {
    const text = await readBounded(upstreamRes, MAX_ERROR_BODY);
    const upstreamMessage = errorMessage(text);
    this.options.logger.warn({ status, requestId }, 'upstream answered with an error');
    if (status === 401 || status === 403 || status === 407) {
      return new BadGatewayError(
        `The upstream refused the gateway's credentials (HTTP ${status}); an operator must check UPSTREAM_API_KEY.`,
        { code: 'upstream_auth_failed' },
      );
    }
    if (status >= 500 || status < 400) {
      return new BadGatewayError(
        `The upstream failed (HTTP ${status}${upstreamMessage ? `: ${upstreamMessage}` : ''}); try again later.`,
        { code: 'upstream_error' },
      );
    }
    return new StatusError(status, upstreamMessage ?? `The upstream refused the request (HTTP ${status}).`, {
      code: 'upstream_rejected',
      type: 'invalid_request_error',
    });
  }
}

function readBounded(stream: http.IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      if (size < max) chunks.push(chunk.subarray(0, max - size));
      size += chunk.length;
    });
    stream.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.once('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.once('aborted', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** The upstream's own message, from an OpenAI-style body or plain text, clipped. */
function errorMessage(text: string): string | undefined {
  let message: unknown = text.trim();
  try {
    const json = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    message = typeof json.error === 'string' ? json.error : (json.error?.message ?? json.message ?? message);
  } catch {
    // plain text
  }
  if (typeof message !== 'string' || message === '') return undefined;
  return message.length > 300 ? `${message.slice(0, 297)}...` : message;
}

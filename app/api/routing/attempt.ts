import http from 'node:http';
import https from 'node:https';
import type { CancelSignal } from './client-gone';
import { retryAfter } from './retry-after';
import type { Endpoint, Upstream } from './upstream';

/** Why one attempt at one upstream did not give a usable answer. */
export type AttemptFailureReason =
  'connect' | 'timeout' | 'status_5xx' | 'status_429' | 'auth' | 'not_found' | 'status_4xx' | 'aborted';

export interface AttemptRequest {
  upstream: Upstream;
  endpoint: Endpoint;
  payload: Buffer;
  stream: boolean;
  requestId: string;
  /** Until the response headers (and, for an error answer, its body). */
  timeoutMs: number;
  /** Aborted when the client went away. */
  signal: CancelSignal;
  /** The clock Retry-After dates are read against. */
  now: () => number;
}

export interface AttemptFailure {
  ok: false;
  reason: AttemptFailureReason;
  /** The upstream's status, when it answered. */
  status?: number;
  /** Why, for logs: an error code or the upstream's own message, clipped. Never a secret. */
  detail: string;
  /** The upstream's own error message, for a 4xx passed on to the client. */
  upstreamMessage?: string;
  /** When the upstream asked to be called again (ms since epoch). */
  retryAt?: number;
}

export interface AttemptSuccess {
  ok: true;
  request: http.ClientRequest;
  response: http.IncomingMessage;
}

export type AttemptResult = AttemptSuccess | AttemptFailure;

/** Sends one request to one upstream; the seam the failover executor is tested through. */
export type SendAttempt = (request: AttemptRequest) => Promise<AttemptResult>;

const MAX_ERROR_BODY = 64 * 1024;

function classify(status: number): AttemptFailureReason {
  if (status === 429) return 'status_429';
  if (status === 401 || status === 403 || status === 407) return 'auth';
  if (status === 404) return 'not_found';
  if (status >= 500 || status < 400) return 'status_5xx';
  return 'status_4xx';
}

/**
 * One attempt with node's http client over the upstream's keep-alive agent. Resolves at the response headers of a
 * 2xx (the caller then owns the response), or with why it failed: connect errors, the timeout, or a non-2xx status
 * whose bounded body gives the upstream's message. A kept-alive socket the upstream had just closed is the one case
 * sent twice: nothing reached the upstream.
 */
export const sendAttempt: SendAttempt = (attempt) => {
  const { upstream, signal } = attempt;
  const target = upstream.target(attempt.endpoint);
  const headers: http.OutgoingHttpHeaders = {
    'content-type': 'application/json',
    'content-length': attempt.payload.length,
    accept: attempt.stream ? 'text/event-stream' : 'application/json',
    // The answer is rewritten on its way (the model name): it has to arrive as plain bytes.
    'accept-encoding': 'identity',
    'x-request-id': attempt.requestId,
  };
  const authorization = upstream.authorization;
  if (authorization) headers.authorization = authorization;
  const transport = target.https ? https : http;
  const options: http.RequestOptions = {
    protocol: target.protocol,
    hostname: target.hostname,
    port: target.port,
    path: target.path,
    auth: target.auth,
    method: 'POST',
    headers,
    agent: upstream.agent,
  };

  if (signal.aborted)
    return Promise.resolve({ ok: false, reason: 'aborted', detail: 'the client went away' });
  return new Promise<AttemptResult>((resolve) => {
    let settled = false;
    let request: http.ClientRequest | undefined;
    const settle = (result: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (!result.ok) request?.destroy();
      resolve(result);
    };
    const onAbort = () => settle({ ok: false, reason: 'aborted', detail: 'the client went away' });
    const timer = setTimeout(
      () => settle({ ok: false, reason: 'timeout', detail: `no answer within ${attempt.timeoutMs} ms` }),
      attempt.timeoutMs,
    );
    signal.addEventListener('abort', onAbort, { once: true });

    const send = (first: boolean) => {
      let answered = false;
      const sent = transport.request(options);
      request = sent;
      sent.on('error', (error: NodeJS.ErrnoException) => {
        if (settled) return;
        if (first && sent.reusedSocket && error.code === 'ECONNRESET' && !answered) {
          send(false);
          return;
        }
        settle({ ok: false, reason: 'connect', detail: error.code ?? error.message });
      });
      sent.on('response', (response) => {
        answered = true;
        const status = response.statusCode ?? 502;
        if (status >= 200 && status < 300) {
          settle({ ok: true, request: sent, response });
          return;
        }
        const retryAt =
          status === 429 || status === 503 ? retryAfter(response.headers, attempt.now()) : undefined;
        void readBounded(response, MAX_ERROR_BODY).then((text) => {
          const upstreamMessage = errorMessage(text);
          settle({
            ok: false,
            reason: classify(status),
            status,
            detail: `HTTP ${status}${upstreamMessage ? `: ${upstreamMessage}` : ''}`,
            upstreamMessage,
            retryAt,
          });
        });
      });
      sent.end(attempt.payload);
    };
    send(true);
  });
};

function readBounded(stream: http.IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => resolve(Buffer.concat(chunks).toString('utf8'));
    stream.on('data', (chunk: Buffer) => {
      if (size < max) chunks.push(chunk.subarray(0, max - size));
      size += chunk.length;
    });
    stream.once('end', done);
    stream.once('error', done);
    stream.once('aborted', done);
    stream.once('close', done);
  });
}

/** The upstream's own message, from an OpenAI-style body or plain text, clipped. */
export function errorMessage(text: string): string | undefined {
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

import type { Readable, Transform } from 'node:stream';
import zlib from 'node:zlib';
import type { Response } from 'express';
import type { Logger } from '../../../core/logger';
import type { Committed } from './failover';
import { JsonModelRewriter, rewriteJson } from './json-rewriter';
import type { KeptAnswer } from './outcome';
import { streamBroken } from './routing-errors';
import { SseModelRewriter } from './sse-rewriter';

/** Response headers passed on from the upstream; framing and encoding are the gateway's own business. */
const FORWARDED_HEADER = /^(content-type|openai-[a-z-]+|x-ratelimit-[a-z-]+)$/;

export const UPSTREAM_HEADER = 'x-modelgate-upstream';
export const UPSTREAM_MODEL_HEADER = 'x-modelgate-upstream-model';

export interface Delivery {
  result: 'ok' | 'broken' | 'aborted';
  usage: Record<string, unknown> | null;
  /** What was kept of the answer for a token estimate (DeliverOptions.keepBytes). */
  answer: KeptAnswer | null;
  /** When the first data event of a stream went out (ms since epoch). */
  firstTokenAt: number | null;
  endedAt: number;
}

export interface DeliverDeps {
  logger: Logger;
  now: () => number;
}

export interface DeliverOptions {
  /** Leave out a stream's usage chunk: the gateway asked for it, the client did not. */
  dropUsageEvent?: boolean;
  /** Keep the answer's bytes, up to this many, for a token estimate should the upstream report no usage. */
  keepBytes?: number;
}

/**
 * A JSON answer of at most this many bytes (by its Content-Length) is read whole, edited in one pass and sent with
 * a Content-Length: cheaper than a stream transform, and the client gets the length. Larger ones stream through.
 */
const WHOLE_JSON_BYTES = 1024 * 1024;

/** The answer's Content-Length; undefined when it has none (or one that is not a length). */
function declaredLength(response: Committed['response']): number | undefined {
  const length = Number(response.headers['content-length'] ?? NaN);
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}

/** Header values allow visible latin-1; a model name with anything else is sent percent-encoded. */
function headerValue(value: string): string {
  return /^[\t\x20-\x7e\x80-\xff]*$/.test(value) ? value : encodeURIComponent(value);
}

function decoderFor(encoding: string | undefined): Transform | null | undefined {
  const name = (encoding ?? 'identity').trim().toLowerCase();
  if (name === 'identity' || name === '') return undefined;
  if (name === 'gzip' || name === 'x-gzip') return zlib.createGunzip();
  if (name === 'deflate') return zlib.createInflate();
  if (name === 'br') return zlib.createBrotliDecompress();
  return null;
}

function keptAnswer(rewriter: SseModelRewriter | JsonModelRewriter | undefined): KeptAnswer | null {
  if (rewriter instanceof SseModelRewriter) {
    const events = rewriter.keptEvents();
    return events ? { kind: 'sse', events } : null;
  }
  const chunks = rewriter?.keptChunks();
  return chunks ? { kind: 'json', chunks } : null;
}

/**
 * Passes a committed upstream answer to the client: status and headers, then the body through the model-name
 * rewriter (SSE or JSON), with backpressure from end to end, or, for a small JSON answer, read and edited whole
 * (WHOLE_JSON_BYTES). An upstream that breaks off midway ends a stream with an OpenAI-style error event and cuts any
 * other body, so nothing truncated looks complete; a client that leaves aborts the upstream request. Resolves once
 * the client's response is closed.
 */
export function deliver(
  committed: Committed,
  clientModel: string,
  res: Response,
  deps: DeliverDeps,
  options: DeliverOptions = {},
): Promise<Delivery> {
  const { response, request, upstream } = committed;
  const contentType = String(response.headers['content-type'] ?? '');
  const isSse = contentType.toLowerCase().startsWith('text/event-stream');
  const isJson = !isSse && /\bjson\b/i.test(contentType);
  const decoder = decoderFor(response.headers['content-encoding']);
  let firstTokenAt: number | null = null;
  let rewriter: SseModelRewriter | JsonModelRewriter | undefined;
  if (decoder !== null && isSse)
    rewriter = new SseModelRewriter({
      model: clientModel,
      onFirstEvent: () => (firstTokenAt = deps.now()),
      dropUsageEvent: options.dropUsageEvent,
      keepBytes: options.keepBytes,
    });
  const length = declaredLength(response);
  const whole = isJson && decoder === undefined && length !== undefined && length <= WHOLE_JSON_BYTES;
  if (decoder !== null && isJson && !whole) rewriter = new JsonModelRewriter(clientModel, options.keepBytes);
  let usage: Record<string, unknown> | null = null;
  let answer: KeptAnswer | null = null;

  res.status(response.statusCode ?? 200);
  // The key's own limits, set at admission, are what the client is told: the upstream's rate-limit headers describe
  // the gateway's account there and pass only where the gateway set none of the same name.
  for (const [name, value] of Object.entries(response.headers))
    if (value !== undefined && FORWARDED_HEADER.test(name) && !res.hasHeader(name))
      res.setHeader(name, value);
  // An encoding the gateway cannot undo passes as it came, unrewritten.
  if (decoder === null) res.setHeader('content-encoding', String(response.headers['content-encoding']));
  res.setHeader(UPSTREAM_HEADER, upstream.name);
  res.setHeader(UPSTREAM_MODEL_HEADER, headerValue(committed.sentModel));
  if (isSse) {
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Accel-Buffering', 'no');
    // The headers go out with the first event, or alone once this turn of the event loop is over without one: the
    // client learns at once that the stream began, and most streams need no write for the headers alone.
    setImmediate(() => {
      if (!res.headersSent && !res.destroyed) res.flushHeaders();
    });
  }

  return new Promise<Delivery>((resolve) => {
    let broken = false;
    const body: Readable = decoder ? response.pipe(decoder) : response;
    /** The SSE path's 'data' listener, taken off when the upstream breaks off. */
    let onEvents = (_chunk: Buffer): void => {};

    const breakOff = (why: string) => {
      if (broken || res.destroyed || res.writableFinished) return;
      broken = true;
      deps.logger.warn(
        { upstream: upstream.name, model: clientModel, reason: why },
        'upstream broke off the answer midway',
      );
      if (rewriter instanceof SseModelRewriter) {
        body.off('data', onEvents);
        res.end(rewriter.breakOff(streamBroken().toJSON()));
      } else {
        // A cut JSON body must not look like a complete one: the client sees the connection fail.
        res.destroy();
      }
    };
    response.on('error', () => breakOff('upstream connection error'));
    response.once('close', () => {
      if (!response.complete) breakOff('upstream closed the connection before the end');
    });
    decoder?.on('error', () => breakOff('upstream body could not be decoded'));

    res.once('close', () => {
      const finished = res.writableFinished;
      if (!finished) request.destroy();
      upstream.release();
      resolve({
        result: broken ? 'broken' : finished ? 'ok' : 'aborted',
        usage: rewriter ? (rewriter.usage() ?? null) : usage,
        answer: rewriter ? keptAnswer(rewriter) : answer,
        firstTokenAt,
        endedAt: deps.now(),
      });
    });
    if (rewriter instanceof SseModelRewriter) {
      const sse = rewriter;
      // The events of one read go out in one write, once the read's 'data' events are over (on the next tick):
      // an upstream writes each event apart, and a chunk (with its chunked-encoding frame) per event cost the
      // proxy more than editing them did. A slow stream still goes out event by event, as each one arrives.
      let flushing = false;
      const flush = () => {
        flushing = false;
        const bytes = sse.take();
        if (bytes && !broken && !res.destroyed && !res.write(bytes)) body.pause();
      };
      onEvents = (chunk: Buffer) => {
        sse.write(chunk);
        if (!flushing) {
          flushing = true;
          process.nextTick(flush);
        }
      };
      res.on('drain', () => body.resume());
      body.on('data', onEvents);
      body.once('end', () => {
        if (broken || res.destroyed) return;
        sse.end();
        res.end(sse.take());
      });
      return;
    }
    if (!whole) {
      (rewriter ? body.pipe(rewriter) : body).pipe(res);
      return;
    }
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.once('end', () => {
      if (res.destroyed) return;
      const original = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const edited = rewriteJson(original, clientModel);
      usage = edited.usage ?? null;
      const keepBytes = options.keepBytes ?? 0;
      if (keepBytes > 0 && original.length <= keepBytes) answer = { kind: 'json', chunks: [original] };
      res.setHeader('content-length', edited.body.length);
      res.end(edited.body);
    });
  });
}

import fs from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { AxiosError, AxiosResponse } from 'axios';
import { redactSourceUrl } from '../../core/artifact/source-url';
import type { Logger } from '../../core/logger';
import { backoffDelay, parseRetryAfter, type Clock } from '../backoff';

export interface SourceRequest {
  url: string;
  /** Validators of the artifact we hold, for a conditional request. */
  etag: string | null;
  lastModified: string | null;
}

export type SourceResponse =
  { kind: 'not-modified' } | { kind: 'ok'; body: string; etag: string | null; lastModified: string | null };

export interface SourceOptions {
  timeoutMs: number;
  maxBytes: number;
  retries: number;
  logger: Logger;
  clock: Clock;
  maxRedirects?: number;
  /** A Retry-After longer than this is not waited for: the request fails (and last-known-good applies). */
  maxRetryAfterMs?: number;
  userAgent?: string;
  /**
   * The whole exchange's allowance over every attempt, when shorter than the attempts could take (init holds a
   * last-known-good artifact): each attempt gets what is left of it, and no retry starts that it cannot cover.
   */
  budget?: { ms: number; variable: string };
}

/** A failed request to the model source. `retryable` failures are retried with backoff. */
export class SourceError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'SourceError';
  }
}

/**
 * JSON, or plain text: raw-file hosts serve JSON as text/plain. What this rejects is what a proxy or portal sends
 * instead of the feed (text/html error pages, images...).
 */
const ACCEPTED_CONTENT_TYPE = /^\s*(application\/(json|[a-z0-9.+-]*\+json)|text\/(json|plain))\s*(;|$)/i;

function header(response: AxiosResponse, name: string): string | null {
  const value = response.headers[name];
  return typeof value === 'string' && value !== '' ? value : null;
}

async function fetchFile(request: SourceRequest, options: SourceOptions): Promise<SourceResponse> {
  const path = fileURLToPath(request.url);
  let stat;
  try {
    stat = await fs.stat(path);
  } catch (error) {
    throw new SourceError(`cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? error})`, false);
  }
  if (stat.size > options.maxBytes) {
    throw new SourceError(
      `${path} is ${stat.size} bytes, above MODEL_SOURCE_MAX_BYTES (${options.maxBytes}); raise MODEL_SOURCE_MAX_BYTES if that is expected`,
      false,
    );
  }
  const lastModified = stat.mtime.toUTCString();
  if (request.lastModified === lastModified) return { kind: 'not-modified' };
  return { kind: 'ok', body: await fs.readFile(path, 'utf8'), etag: null, lastModified };
}

/** How long one attempt may take, and what bounds it, e.g. "MODEL_SOURCE_TIMEOUT (10000 ms)", for the message. */
interface AttemptLimit {
  ms: number;
  bound: string;
}

function describeNetworkError(error: AxiosError, options: SourceOptions, limit: AttemptLimit): SourceError {
  const code = error.code ?? '';
  if (code === 'ERR_CANCELED' || code === 'ETIMEDOUT' || code === 'ECONNABORTED') {
    return new SourceError(`no complete answer within ${limit.bound}`, true);
  }
  if (code === 'ERR_FR_TOO_MANY_REDIRECTS') {
    return new SourceError(`more than ${options.maxRedirects ?? 5} redirects (a redirect loop?)`, false);
  }
  if (/maxContentLength/.test(error.message)) {
    return new SourceError(
      `the response is larger than MODEL_SOURCE_MAX_BYTES (${options.maxBytes} bytes)`,
      false,
    );
  }
  return new SourceError(`${code || 'network error'}: ${error.message}`, true);
}

async function fetchHttpOnce(
  request: SourceRequest,
  options: SourceOptions,
  limit: AttemptLimit,
): Promise<SourceResponse> {
  // Loaded by the first request, not at start: an init container that reuses the cached artifact never fetches, and
  // axios (with form-data and its MIME table) is a good part of what an init start would otherwise load.
  const { default: axios } = await import('axios');
  const controller = new AbortController();
  // axios' own timeout is an idle timeout; this bounds the whole exchange (a body that trickles forever).
  const timer = setTimeout(() => controller.abort(), limit.ms);
  const headers: Record<string, string> = {
    Accept: 'application/json',
    'User-Agent': options.userAgent ?? 'modelgate-init',
  };
  if (request.etag) headers['If-None-Match'] = request.etag;
  if (request.lastModified) headers['If-Modified-Since'] = request.lastModified;
  let response: AxiosResponse<Buffer>;
  try {
    response = await axios.request<Buffer>({
      url: request.url,
      method: 'GET',
      // Node's http stack; the bundles leave axios' fetch adapter out (scripts/build/bundle.mjs).
      adapter: 'http',
      headers,
      responseType: 'arraybuffer',
      timeout: limit.ms,
      signal: controller.signal,
      maxContentLength: options.maxBytes,
      maxRedirects: options.maxRedirects ?? 5,
      validateStatus: () => true,
      transitional: { clarifyTimeoutError: true, silentJSONParsing: true, forcedJSONParsing: false },
    });
  } catch (error) {
    if (axios.isAxiosError(error)) throw describeNetworkError(error, options, limit);
    throw new SourceError((error as Error).message, true);
  } finally {
    clearTimeout(timer);
  }
  const status = response.status;
  if (status === 304) {
    if (!request.etag && !request.lastModified) {
      throw new SourceError('HTTP 304 to an unconditional request', false);
    }
    return { kind: 'not-modified' };
  }
  if (status === 429 || status === 408 || status >= 500) {
    const retryAfter = parseRetryAfter(header(response, 'retry-after') ?? undefined, options.clock.now());
    throw new SourceError(`HTTP ${status}`, true, retryAfter);
  }
  if (status !== 200) throw new SourceError(`HTTP ${status}`, false);
  const contentType = header(response, 'content-type');
  if (contentType !== null && !ACCEPTED_CONTENT_TYPE.test(contentType)) {
    throw new SourceError(
      `unexpected content-type ${JSON.stringify(contentType)} (expected application/json); is MODEL_SOURCE_URL the JSON feed and not a web page?`,
      false,
    );
  }
  return {
    kind: 'ok',
    body: Buffer.from(response.data).toString('utf8'),
    etag: header(response, 'etag'),
    lastModified: header(response, 'last-modified'),
  };
}

/**
 * One logical request to the model source: conditional when validators are known, retried on timeouts, resets,
 * 408, 429 and 5xx with jittered exponential backoff (Retry-After honoured up to maxRetryAfterMs), all within
 * `budget` when one is given.
 */
export async function fetchSource(request: SourceRequest, options: SourceOptions): Promise<SourceResponse> {
  if (request.url.startsWith('file:')) return fetchFile(request, options);
  const { logger, clock, budget } = options;
  const shown = redactSourceUrl(request.url);
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000;
  const deadline = budget ? clock.now() + budget.ms : Infinity;
  const limitFor = (now: number): AttemptLimit =>
    budget && deadline - now < options.timeoutMs
      ? { ms: Math.max(1, Math.round(deadline - now)), bound: `${budget.variable} (${budget.ms} ms)` }
      : { ms: options.timeoutMs, bound: `MODEL_SOURCE_TIMEOUT (${options.timeoutMs} ms)` };
  for (let attempt = 0; ; attempt++) {
    const started = clock.now();
    try {
      const response = await fetchHttpOnce(request, options, limitFor(started));
      logger.info(
        { url: shown, attempt: attempt + 1, result: response.kind, durationMs: clock.now() - started },
        'model source answered',
      );
      return response;
    } catch (error) {
      const failure = error instanceof SourceError ? error : new SourceError(String(error), false);
      const last = attempt >= options.retries;
      if (!failure.retryable || last) {
        throw new SourceError(
          `${shown}: ${failure.message}${failure.retryable ? ` (after ${attempt + 1} attempts)` : ''}`,
          failure.retryable,
        );
      }
      if (failure.retryAfterMs !== undefined && failure.retryAfterMs > maxRetryAfterMs) {
        throw new SourceError(
          `${shown}: ${failure.message} with Retry-After ${Math.round(failure.retryAfterMs / 1000)} s, longer than this run waits`,
          true,
        );
      }
      const delay =
        failure.retryAfterMs ?? backoffDelay(attempt, { baseMs: 500, maxMs: 10_000 }, clock.random);
      if (budget && clock.now() + delay >= deadline) {
        throw new SourceError(
          `${shown}: ${failure.message} (after ${attempt + 1} attempts; ${budget.variable} (${budget.ms} ms) leaves no time for another)`,
          true,
        );
      }
      logger.warn(
        { url: shown, attempt: attempt + 1, reason: failure.message, retryInMs: delay },
        'model source request failed, retrying',
      );
      await clock.sleep(delay);
    }
  }
}

import type { IncomingHttpHeaders } from 'node:http';

/** Upstreams asking for more than this are still tried again after it: a typo must not park one for days. */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

/**
 * When the upstream asks to be called again, from `retry-after-ms` (Azure OpenAI and others) or `Retry-After`
 * (seconds or an HTTP date), as ms since epoch; undefined when it said nothing usable.
 */
export function retryAfter(headers: IncomingHttpHeaders, now: number): number | undefined {
  const ms = Number(headers['retry-after-ms']);
  if (headers['retry-after-ms'] !== undefined && Number.isFinite(ms) && ms >= 0)
    return now + Math.min(ms, MAX_RETRY_AFTER_MS);
  const raw = headers['retry-after'];
  if (raw === undefined || raw.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(raw.trim())) return now + Math.min(Number(raw) * 1000, MAX_RETRY_AFTER_MS);
  const date = Date.parse(raw);
  if (Number.isNaN(date)) return undefined;
  return Math.min(Math.max(date, now), now + MAX_RETRY_AFTER_MS);
}

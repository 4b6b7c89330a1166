import type { Response } from 'express';
import type { HeaderDoc } from '../operations';
import type { LimitState } from './lease-limiter';

/**
 * A duration as OpenAI writes its reset headers (Go's time.Duration format): `20ms`, `1s`, `1.5s`, `6m0s`,
 * `1h2m3s`; milliseconds are the finest unit.
 */
export function formatReset(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total < 1_000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const seconds = (total % 60_000) / 1_000;
  const secondsText = `${Number(seconds.toFixed(3))}s`;
  if (hours > 0) return `${hours}h${minutes}m${secondsText}`;
  if (minutes > 0) return `${minutes}m${secondsText}`;
  return secondsText;
}

const SUFFIX = { requests: 'requests', tokens: 'tokens' } as const;

/** What `formatReset` writes, as a pattern. */
export const RESET_PATTERN = '^(\\d+ms|(\\d+h)?(\\d+m)?\\d+(\\.\\d{1,3})?s)$';

/** The headers `setRateLimitHeaders` sets, for the OpenAPI document: one source for their names. */
export function rateLimitHeaderDocs(): Record<string, HeaderDoc> {
  const docs: Record<string, HeaderDoc> = {};
  for (const [suffix, per] of [
    [SUFFIX.requests, 'requests per minute'],
    [SUFFIX.tokens, 'tokens per minute'],
  ] as const) {
    const which = `when the key has a limit of ${per} (its own or its user's), once that limit was checked`;
    docs[`x-ratelimit-limit-${suffix}`] = {
      description: `The key's limit of ${per}; ${which}.`,
      schema: { type: 'integer', minimum: 0 },
    };
    docs[`x-ratelimit-remaining-${suffix}`] = {
      description: `What the current minute window has left of it, across every replica; ${which}.`,
      schema: { type: 'integer', minimum: 0 },
    };
    docs[`x-ratelimit-reset-${suffix}`] = {
      description: `Until the window starts again, as OpenAI writes it (\`20ms\`, \`1.5s\`, \`6m0s\`); ${which}.`,
      schema: { type: 'string', pattern: RESET_PATTERN },
    };
  }
  return docs;
}

/**
 * Sets `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` for the per-minute limits the key has. A limit the
 * key does not have gets no header (there is nothing to count down); the monthly budget has none of its own
 * (GET /v1/limits shows it).
 */
export function setRateLimitHeaders(res: Response, states: readonly LimitState[]): void {
  for (const state of states) {
    if (state.dimension === 'budget') continue;
    const suffix = SUFFIX[state.dimension];
    res.setHeader(`x-ratelimit-limit-${suffix}`, String(state.limit));
    res.setHeader(`x-ratelimit-remaining-${suffix}`, String(Math.max(0, state.remaining)));
    res.setHeader(`x-ratelimit-reset-${suffix}`, formatReset(state.resetMs));
  }
}

/** Retry-After in whole seconds, at least 1. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1_000));
}

import type { Response } from 'express';
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

import http from 'node:http';
import https from 'node:https';
import { CircuitBreaker, type BreakerState } from './breaker';
import type { UpstreamSpec } from './routing-file';

export type Endpoint = 'chat' | 'embeddings';

const PATHS: Record<Endpoint, string> = {
  chat: '/v1/chat/completions',
  embeddings: '/v1/embeddings',
};

/** One endpoint of an upstream, as http.request options (what node's urlToHttpOptions makes of its URL). */
export interface EndpointTarget {
  https: boolean;
  protocol: string;
  hostname: string;
  port: number | undefined;
  path: string;
  auth: string | undefined;
}

function endpointTarget(url: URL): EndpointTarget {
  const auth = url.username || url.password;
  return {
    https: url.protocol === 'https:',
    protocol: url.protocol,
    // An IPv6 literal without its brackets, as http.request wants it.
    hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port === '' ? undefined : Number(url.port),
    path: `${url.pathname}${url.search}`,
    auth: auth ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` : undefined,
  };
}

const bearerOf = (apiKey: string | undefined) => (apiKey === undefined ? undefined : `Bearer ${apiKey}`);

export interface UpstreamEvents {
  breakerChanged(upstream: string, state: BreakerState): void;
  inFlightChanged(upstream: string, inFlight: number): void;
  /** Removed by a reload (or replaced by one with another URL): its gauges go. */
  retired(upstream: string): void;
}

/** What /status shows of an upstream; never its key. */
export interface UpstreamView {
  name: string;
  url: string;
  breaker: BreakerState;
  /** When an open breaker lets its trial through. */
  retryAt: string | null;
  /** Until when the upstream asked not to be called (429/503 with Retry-After). */
  throttledUntil: string | null;
  inFlight: number;
  maxConcurrency: number | null;
  timeoutMs: number;
}

/**
 * One upstream at run time: its keep-alive agent, its breaker, its concurrency cap and what it said about being
 * called again. Lives across routing reloads that keep its URL, so a reload neither resets a breaker nor drops
 * pooled connections.
 */
export class Upstream {
  readonly breaker: CircuitBreaker;
  readonly agent: http.Agent;
  private spec: UpstreamSpec;
  private bearer: string | undefined;
  private readonly targets: Record<Endpoint, EndpointTarget>;
  private active = 0;
  private throttledTill = 0;
  private retired = false;

  constructor(
    readonly name: string,
    spec: UpstreamSpec,
    apiKey: string | undefined,
    private readonly now: () => number,
    private readonly events: UpstreamEvents,
  ) {
    this.spec = spec;
    this.bearer = bearerOf(apiKey);
    // Worked out once, not per request: the URL never changes (a reload with another makes a new Upstream).
    const base = spec.url.replace(/\/+$/, '');
    this.targets = {
      chat: endpointTarget(new URL(`${base}${PATHS.chat}`)),
      embeddings: endpointTarget(new URL(`${base}${PATHS.embeddings}`)),
    };
    this.agent = spec.url.startsWith('https:')
      ? new https.Agent({ keepAlive: true })
      : new http.Agent({ keepAlive: true });
    this.breaker = new CircuitBreaker(this.breakerSettings(), now, (state) => {
      if (!this.retired) events.breakerChanged(name, state);
    });
    events.breakerChanged(name, this.breaker.state);
    events.inFlightChanged(name, 0);
  }

  get url(): string {
    return this.spec.url;
  }

  get timeoutMs(): number {
    return this.spec.timeout;
  }

  get maxConcurrency(): number | undefined {
    return this.spec.maxConcurrency;
  }

  get inFlight(): number {
    return this.active;
  }

  /** The Authorization header value, when the upstream has a key. */
  get authorization(): string | undefined {
    return this.bearer;
  }

  /** Where `endpoint` is, as http.request takes it. */
  target(endpoint: Endpoint): EndpointTarget {
    return this.targets[endpoint];
  }

  /** Takes the new settings of a reload; the URL is the same (else a new Upstream replaces this one). */
  update(spec: UpstreamSpec, apiKey: string | undefined): void {
    this.spec = spec;
    this.bearer = bearerOf(apiKey);
    this.breaker.reconfigure(this.breakerSettings());
  }

  /** Takes a place under the concurrency cap; false when the upstream is full. */
  tryReserve(): boolean {
    if (this.spec.maxConcurrency !== undefined && this.active >= this.spec.maxConcurrency) return false;
    this.active += 1;
    this.events.inFlightChanged(this.name, this.active);
    return true;
  }

  release(): void {
    this.active -= 1;
    // A retired upstream's gauges are gone (a successor of the same name may own them now).
    if (!this.retired) this.events.inFlightChanged(this.name, this.active);
    if (this.retired && this.active === 0) this.agent.destroy();
  }

  /** The upstream asked not to be called before `until` (ms since epoch). */
  throttle(until: number): void {
    this.throttledTill = Math.max(this.throttledTill, until);
  }

  /** Until when the upstream is not to be called; undefined when it may be called now. */
  throttledUntil(): number | undefined {
    return this.throttledTill > this.now() ? this.throttledTill : undefined;
  }

  /** Removed by a reload: its pooled connections close once its last request is done. */
  retire(): void {
    this.retired = true;
    this.events.retired(this.name);
    if (this.active === 0) this.agent.destroy();
  }

  view(): UpstreamView {
    const retryAt = this.breaker.retryAt;
    const throttled = this.throttledUntil();
    return {
      name: this.name,
      url: publicUrl(this.spec.url),
      breaker: this.breaker.state,
      retryAt: retryAt === undefined ? null : new Date(retryAt).toISOString(),
      throttledUntil: throttled === undefined ? null : new Date(throttled).toISOString(),
      inFlight: this.active,
      maxConcurrency: this.spec.maxConcurrency ?? null,
      timeoutMs: this.spec.timeout,
    };
  }

  private breakerSettings() {
    return { failures: this.spec.breaker.failures, cooldownMs: this.spec.breaker.cooldown };
  }
}

/** Scheme, host and path only: the routing file forbids credentials in URLs, this keeps that true for /status. */
function publicUrl(raw: string): string {
  const url = new URL(raw);
  return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}

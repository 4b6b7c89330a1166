export type BreakerState = 'closed' | 'open' | 'half_open';
export const breakerStates: readonly BreakerState[] = ['closed', 'open', 'half_open'];

export interface BreakerSettings {
  /** Consecutive failures that open the breaker. */
  failures: number;
  /** How long it stays open before one trial request is let through. */
  cooldownMs: number;
}

/** What an attempt ended as, for the breaker: only failures count towards opening it. */
export type BreakerVerdict = 'success' | 'failure' | 'neutral';

/** Handed out for each request the breaker lets through; settled once with its verdict. */
export interface BreakerPermit {
  readonly trial: boolean;
}

/**
 * A circuit breaker for one upstream. Closed: everything passes and consecutive failures are counted; at the
 * threshold it opens. Open: nothing passes until the cool-down is over; then exactly one trial passes (half-open):
 * its success closes the breaker, its failure opens it for another cool-down, and a neutral end (e.g. a 429 or the
 * client leaving) lets the next request be the trial. Verdicts of requests sent before it opened are ignored.
 */
export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private consecutive = 0;
  private openedAt = 0;
  private trialInFlight = false;

  constructor(
    private settings: BreakerSettings,
    private readonly now: () => number,
    private readonly onChange: (state: BreakerState) => void = () => undefined,
  ) {}

  reconfigure(settings: BreakerSettings): void {
    this.settings = settings;
  }

  get state(): BreakerState {
    return this.current;
  }

  /** When an open breaker lets its trial through (ms since epoch); undefined unless open. */
  get retryAt(): number | undefined {
    return this.current === 'open' ? this.openedAt + this.settings.cooldownMs : undefined;
  }

  /** A permit when a request may be sent now; undefined when the breaker holds it back. */
  tryAcquire(): BreakerPermit | undefined {
    if (this.current === 'closed') return { trial: false };
    if (this.current === 'open') {
      if (this.now() < this.openedAt + this.settings.cooldownMs) return undefined;
      this.transition('half_open');
    }
    if (this.trialInFlight) return undefined;
    this.trialInFlight = true;
    return { trial: true };
  }

  settle(permit: BreakerPermit, verdict: BreakerVerdict): void {
    if (permit.trial) {
      this.trialInFlight = false;
      if (verdict === 'success') this.close();
      else if (verdict === 'failure') this.open();
      return;
    }
    if (this.current !== 'closed') return;
    if (verdict === 'success') this.consecutive = 0;
    else if (verdict === 'failure') {
      this.consecutive += 1;
      if (this.consecutive >= this.settings.failures) this.open();
    }
  }

  private open(): void {
    this.openedAt = this.now();
    this.consecutive = 0;
    this.transition('open');
  }

  private close(): void {
    this.consecutive = 0;
    this.transition('closed');
  }

  private transition(state: BreakerState): void {
    if (state === this.current) return;
    this.current = state;
    this.onChange(state);
  }
}

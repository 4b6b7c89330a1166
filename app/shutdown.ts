import type { Server, ServerResponse } from 'node:http';
import type { Logger } from '../core/logger';

export interface ShutdownOptions {
  server: Server;
  logger: Logger;
  /** How long /readyz reports 503 before the listener closes, so load balancers stop sending traffic. */
  delayMs: number;
  /** Upper bound for in-flight requests and SSE streams to finish once the listener is closed. */
  timeoutMs: number;
  /** Releases what the process holds once HTTP is done (API listeners, watchers, the database pool). */
  release: () => Promise<void>;
  /** Time allowed for `release`; past it the process exits anyway. */
  releaseTimeoutMs?: number;
  exit: (code: number) => void;
}

export type ShutdownPhase = 'serving' | 'delaying' | 'draining' | 'releasing' | 'done';

export interface Shutdown {
  /** True from the first signal on: /readyz answers 503. */
  draining(): boolean;
  phase(): ShutdownPhase;
  inFlight(): number;
  /** First call starts the graceful sequence; a second call forces the exit (code 1). */
  begin(reason: string): Promise<void>;
}

/** Resolves true when `work` settles within `ms`, false when it takes longer; rejects when it fails. */
async function settleWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Graceful shutdown: not ready at once -> wait `delayMs` -> stop accepting -> drain in-flight responses (open SSE
 * streams included) up to `timeoutMs` -> destroy what is left -> release -> exit. Responses are tracked at the
 * server, so streams the API opens are drained without the API knowing.
 */
export function createShutdown(options: ShutdownOptions): Shutdown {
  const { server, logger } = options;
  const releaseTimeoutMs = options.releaseTimeoutMs ?? 5_000;
  const inflight = new Set<ServerResponse>();
  let phase: ShutdownPhase = 'serving';
  let wakeDrain: (() => void) | undefined;
  let hardStop: NodeJS.Timeout | undefined;
  let exited = false;
  let delayTimer: NodeJS.Timeout | undefined;

  const exit = (code: number) => {
    if (exited) return;
    exited = true;
    if (hardStop) clearTimeout(hardStop);
    if (delayTimer) clearTimeout(delayTimer);
    phase = 'done';
    options.exit(code);
  };

  // Ahead of the app's own listener, so even a response finished synchronously is seen.
  server.prependListener('request', (_req, res: ServerResponse) => {
    inflight.add(res);
    // Keep-alive clients must not reuse a connection that is about to go away.
    if (phase === 'draining') res.setHeader('Connection', 'close');
    res.once('close', () => {
      inflight.delete(res);
      if (phase !== 'draining') return;
      server.closeIdleConnections();
      if (inflight.size === 0) wakeDrain?.();
    });
  });

  async function drain(): Promise<boolean> {
    phase = 'draining';
    server.close();
    server.closeIdleConnections();
    for (const res of inflight) if (!res.headersSent) res.setHeader('Connection', 'close');
    if (inflight.size === 0) return true;
    logger.info({ inFlight: inflight.size, timeoutMs: options.timeoutMs }, 'draining in-flight requests');
    let timer: NodeJS.Timeout | undefined;
    const drained = await new Promise<boolean>((resolve) => {
      wakeDrain = () => resolve(true);
      timer = setTimeout(() => resolve(false), options.timeoutMs);
    });
    clearTimeout(timer);
    wakeDrain = undefined;
    return drained;
  }

  async function sequence(reason: string): Promise<void> {
    phase = 'delaying';
    hardStop = setTimeout(
      () => {
        logger.error('shutdown deadline passed; exiting now');
        exit(1);
      },
      options.delayMs + options.timeoutMs + releaseTimeoutMs + 1_000,
    );
    logger.info(
      { reason, delayMs: options.delayMs, timeoutMs: options.timeoutMs },
      'shutting down: not ready from now on',
    );
    await new Promise<void>((resolve) => {
      delayTimer = setTimeout(resolve, options.delayMs);
    });
    if (exited) return;
    const drained = await drain();
    if (!drained) {
      logger.warn({ remaining: inflight.size }, 'drain timeout reached; closing the connections still open');
      server.closeAllConnections();
    }
    phase = 'releasing';
    const released = await settleWithin(options.release(), releaseTimeoutMs).then(
      (settled) => {
        if (!settled) logger.error({ releaseTimeoutMs }, 'releasing resources took too long');
        return settled;
      },
      (error: unknown) => {
        logger.error({ err: error }, 'releasing resources failed');
        return false;
      },
    );
    logger.info({ drained, released }, 'shutdown complete');
    exit(drained && released ? 0 : 1);
  }

  return {
    draining: () => phase !== 'serving',
    phase: () => phase,
    inFlight: () => inflight.size,
    begin(reason: string) {
      if (phase !== 'serving') {
        logger.warn({ reason }, 'second shutdown signal; exiting now');
        exit(1);
        return Promise.resolve();
      }
      return sequence(reason);
    },
  };
}

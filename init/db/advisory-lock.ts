import type pg from 'pg';
import type { Logger } from '../../core/logger';
import { backoffDelay, type Clock } from '../backoff';
import { LockTimeoutError } from '../errors';

/**
 * Session advisory lock keys (arbitrary fixed 64-bit numbers, "mg" + purpose). Every modelgate-init of a database
 * uses the same three: one serializes migrations, one the model fetch (single-flight), and the scout lets one init
 * at a time read a cache that may need that fetch (init/models/resolve.ts).
 */
export const LOCK_KEYS = {
  migrations: '7217161100000001',
  models: '7217161100000002',
  scout: '7217161100000003',
} as const;
export type LockName = keyof typeof LOCK_KEYS;

export interface HeldLock {
  /** True when another session held the lock first and this one waited for it. */
  waited?: boolean;
  release(): Promise<void>;
}

export interface AcquireOptions {
  client: pg.Client;
  lock: LockName;
  timeoutMs: number;
  /** Names the variable bounding the wait, for the error message. */
  timeoutVariable: string;
  logger: Logger;
  clock: Clock;
}

/** Try once; true when this session now holds the lock. */
export async function tryLock(client: pg.Client, lock: LockName): Promise<boolean> {
  const result = await client.query<{ locked: boolean }>(
    'SELECT pg_try_advisory_lock($1::bigint) AS locked',
    [LOCK_KEYS[lock]],
  );
  return result.rows[0]?.locked === true;
}

function timeoutMessage(options: AcquireOptions): string {
  const { lock, timeoutMs, timeoutVariable } = options;
  return `the ${lock} lock was not acquired within ${timeoutVariable} (${timeoutMs} ms): another modelgate-init is still working or stuck; check the other init containers and pg_locks (advisory lock ${LOCK_KEYS[lock]}), or raise ${timeoutVariable}`;
}

/** The lock just taken by this session; `waited` when another held it first. */
function held(options: AcquireOptions, waitedMs: number, waited: boolean): HeldLock {
  const { client, lock, logger } = options;
  logger.info({ lock, waitedMs }, 'advisory lock acquired');
  return {
    waited,
    release: async () => {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [LOCK_KEYS[lock]]);
      logger.info({ lock }, 'advisory lock released');
    },
  };
}

/** Takes the lock when it is free; undefined, at once, when another session holds it. */
export async function tryAcquireLock(options: AcquireOptions): Promise<HeldLock | undefined> {
  return (await tryLock(options.client, options.lock)) ? held(options, 0, false) : undefined;
}

/**
 * Waits until the session holding the lock releases it, without keeping it: the shared form of the lock is granted
 * to every waiter at the same moment, the moment the holder lets go, and is dropped at once. So pods waiting on
 * another's fetch all go on together instead of taking the lock one after the other. Bounded by `timeoutMs`
 * (PostgreSQL's lock_timeout, for this wait only).
 */
export async function awaitLockRelease(options: AcquireOptions): Promise<void> {
  const { client, lock, timeoutMs, logger, clock } = options;
  const started = clock.now();
  const key = LOCK_KEYS[lock];
  logger.info({ lock }, 'another modelgate-init holds the lock, waiting for its outcome');
  // In a transaction so that the bound (SET LOCAL) ends with it, whatever lock_timeout the session had. The shared
  // lock itself is session-level, and released before the transaction ends.
  await client.query('BEGIN');
  try {
    await client.query("SELECT set_config('lock_timeout', $1, true)", [
      `${Math.max(1, Math.ceil(timeoutMs))}ms`,
    ]);
    await client.query('SELECT pg_advisory_lock_shared($1::bigint)', [key]);
    await client.query('SELECT pg_advisory_unlock_shared($1::bigint)', [key]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    // 55P03 lock_not_available: lock_timeout ran out.
    if ((error as { code?: unknown }).code === '55P03') throw new LockTimeoutError(timeoutMessage(options));
    throw error;
  }
  logger.info({ lock, waitedMs: clock.now() - started }, 'the lock holder has finished');
}

/**
 * Takes a session advisory lock on one dedicated connection, polling pg_try_advisory_lock with jittered backoff so
 * the wait is bounded and never ties up a server-side lock queue. The lock dies with the connection, so a killed
 * process never leaves it held.
 */
export async function acquireLock(options: AcquireOptions): Promise<HeldLock> {
  const { client, lock, timeoutMs, logger, clock } = options;
  const started = clock.now();
  const deadline = started + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    if (await tryLock(client, lock)) return held(options, clock.now() - started, attempt > 0);
    if (attempt === 0) logger.info({ lock }, 'another modelgate-init holds the lock, waiting');
    const left = deadline - clock.now();
    if (left <= 0) throw new LockTimeoutError(timeoutMessage(options));
    await clock.sleep(Math.min(left, backoffDelay(attempt, { baseMs: 100, maxMs: 1_000 }, clock.random)));
  }
}

import { getJson } from './http';

/**
 * Polls `check` until it returns a value other than undefined (errors it throws count as "not yet"), or fails
 * after `timeoutMs` with the last error.
 */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
  what = 'condition',
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Polls `check` until it returns a truthy value or the deadline passes (then returns the last value). */
export async function until<T>(check: () => T | Promise<T>, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Waits until `${base}/readyz` answers 200 (the app is ready), or fails after `timeoutMs`. */
export async function untilReady(base: string, timeoutMs = 30_000): Promise<void> {
  await eventually(
    async () => ((await getJson(`${base}/readyz`)).status === 200 ? true : undefined),
    timeoutMs,
    `${base}/readyz to answer 200`,
  );
}

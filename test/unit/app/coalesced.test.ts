import { coalesced } from '../../../app/artifact/coalesced';

describe('coalesced: one pass at a time for the file stores', () => {
  it('runs calls made while a pass runs as one more pass, and resolves them with it', async () => {
    const releases: (() => void)[] = [];
    let passes = 0;
    const reload = coalesced(async () => {
      passes += 1;
      await new Promise<void>((resolve) => releases.push(resolve));
    });
    const first = reload();
    const later = [reload(), reload(), reload()];
    expect(passes).toBe(1);
    releases.shift()!();
    // The first pass is over; the three calls made during it share the one pass that follows.
    await new Promise((resolve) => setImmediate(resolve));
    expect(passes).toBe(2);
    releases.shift()!();
    await Promise.all([first, ...later]);
    expect(passes).toBe(2);
    // Once idle, the next call starts a pass of its own.
    const next = reload();
    expect(passes).toBe(3);
    releases.shift()!();
    await next;
  });

  it('rejects the callers of a failed pass and starts afresh on the next call', async () => {
    let fail = true;
    const reload = coalesced(async () => {
      if (fail) throw new Error('unreadable');
    });
    await expect(reload()).rejects.toThrow('unreadable');
    fail = false;
    await expect(reload()).resolves.toBeUndefined();
  });
});

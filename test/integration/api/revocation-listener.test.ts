import { createTestDatabase, type TestDatabase } from '../../support/database';
import { CredentialCache } from '../../../app/api/keys/credential-cache';
import { RevocationListener } from '../../../app/api/keys/revocation-listener';
import { LogCapture } from '../../support/api/api-harness';
import { createLogger } from '../../../core/logger';

jest.setTimeout(60_000);

describe('RevocationListener (real PostgreSQL)', () => {
  let listenDb: TestDatabase;
  let otherDb: TestDatabase;
  beforeAll(async () => {
    [listenDb, otherDb] = await Promise.all([
      createTestDatabase('api_listen'),
      createTestDatabase('api_other'),
    ]);
  });
  afterAll(async () => {
    await Promise.all([listenDb.drop(), otherDb.drop()]);
  });

  function listener(notifyThrough: TestDatabase, catchUp: () => Promise<void> = async () => undefined) {
    const cache = new CredentialCache({ ttlMs: 60_000, outageTtlMs: 300_000, maxEntries: 10 });
    const logs = new LogCapture();
    const l = new RevocationListener({
      url: listenDb.url,
      db: notifyThrough.db,
      cache,
      catchUp,
      logger: createLogger({ component: 'test', destination: logs }),
      heartbeatMs: 60_000,
      verifyTimeoutMs: 500,
      reconnectMs: 100,
    });
    return { l, cache, logs };
  }

  it('trusts the cache once a NOTIFY round trip through the pool has arrived', async () => {
    const { l, cache } = listener(listenDb);
    try {
      await l.start();
      expect(l.connected).toBe(true);
      expect(cache.isTrusted).toBe(true);
    } finally {
      await l.close();
    }
    expect(cache.isTrusted).toBe(false);
  });

  it('keeps the cache off when notifications do not come back (as behind a transaction-mode pooler)', async () => {
    // The pool NOTIFYs in another database than the one listened to: nothing ever arrives.
    const { l, cache, logs } = listener(otherDb);
    try {
      await l.start();
      expect(l.connected).toBe(true);
      expect(cache.isTrusted).toBe(false);
      expect(logs.lines.join('\n')).toContain('not delivered over LISTEN/NOTIFY');
    } finally {
      await l.close();
    }
  });

  it('catches up on missed revocations before trusting the cache, and stays untrusted while that fails', async () => {
    const calls: boolean[] = [];
    let fail = true;
    const { l, cache } = listener(listenDb, async () => {
      calls.push(cache.isTrusted);
      if (fail) throw new Error('catch-up failed');
    });
    try {
      await l.start();
      expect(l.connected).toBe(true);
      expect(cache.isTrusted).toBe(false);
      fail = false;
      await l.reverify();
      expect(cache.isTrusted).toBe(true);
      expect(calls).toEqual([false, false]);
    } finally {
      await l.close();
    }
  });
});

import { Writable } from 'node:stream';
import { createLogger, silentLogger } from '../../../core/logger';
import { CredentialCache } from '../../../app/api/keys/credential-cache';
import {
  bearerToken,
  generateKey,
  hashSecret,
  parseKey,
  secretMatches,
  tokensEqual,
} from '../../../app/api/keys/key-format';
import { KeyService } from '../../../app/api/keys/key-service';
import { FakeKeyStore } from '../../../app/api/keys/key-store-fake';
import { LastUseRecorder } from '../../../app/api/keys/last-use-recorder';
import { DatabaseUnavailableError, UnauthorizedError } from '../../../app/http/errors';
import { FakeHealth } from '../../../app/database-health-fake';

class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
}

describe('key format', () => {
  it('generates sk-<12 hex>.<43 base64url> keys with 256 random bits, each different', () => {
    const keys = Array.from({ length: 50 }, () => generateKey());
    for (const k of keys) {
      expect(k.key).toMatch(/^sk-[0-9a-f]{12}\.[A-Za-z0-9_-]{43}$/);
      const parsed = parseKey(k.key)!;
      expect(Buffer.from(parsed.secret, 'base64url')).toHaveLength(32);
      expect(parsed.prefix).toBe(k.prefix);
      expect(secretMatches(parsed.secret, k.secretSha256)).toBe(true);
      expect(k.secretSha256).toEqual(hashSecret(parsed.secret));
    }
    expect(new Set(keys.map((k) => k.key)).size).toBe(50);
  });

  it('rejects malformed keys and wrong secrets', () => {
    const k = generateKey();
    for (const bad of ['', 'sk-', 'sk-abc.def', `${k.key}x`, k.key.toUpperCase(), `Bearer ${k.key}`]) {
      expect(parseKey(bad)).toBeUndefined();
    }
    const other = parseKey(generateKey().key)!;
    expect(secretMatches(other.secret, k.secretSha256)).toBe(false);
    expect(secretMatches('x', Buffer.alloc(3))).toBe(false);
  });

  it('reads bearer tokens and compares tokens of any length', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer  abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
    expect(tokensEqual('same-token', 'same-token')).toBe(true);
    expect(tokensEqual('same-token', 'same-token-longer')).toBe(false);
  });
});

function setup(options: { trusted?: boolean; outageTtlMs?: number } = {}) {
  let now = 1_000_000;
  const clock = {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
  const store = new FakeKeyStore();
  const health = new FakeHealth();
  const cache = new CredentialCache({
    ttlMs: 60_000,
    outageTtlMs: options.outageTtlMs ?? 300_000,
    maxEntries: 100,
    now: clock.now,
  });
  cache.setTrusted(options.trusted ?? true);
  const recorder = new LastUseRecorder(store, silentLogger(), {
    resolutionMs: 60_000,
    flushIntervalMs: 1_000,
    maxPending: 100,
    health,
    now: clock.now,
  });
  const service = new KeyService(store, cache, recorder, health, silentLogger());
  /** The database goes away: every store call fails as with a stopped server, and the detector has noticed. */
  const outage = () => {
    store.unreachable = true;
    health.down();
  };
  health.beforeReachable(() => service.catchUp());
  const recover = async () => {
    store.unreachable = false;
    await health.up();
  };
  return { store, cache, recorder, service, health, clock, outage, recover };
}

describe('KeyService', () => {
  it('authenticates a created key and serves repeats from the cache', async () => {
    const { store, service } = setup();
    const created = await service.create('user-1', 'k');
    expect(await service.authenticate(`Bearer ${created.key}`)).toEqual({
      userId: 'user-1',
      keyId: created.record.id,
    });
    await service.authenticate(`Bearer ${created.key}`);
    expect(store.lookups).toBe(1);
  });

  it('asks the store every time while the cache is untrusted (revocations might be missed)', async () => {
    const { store, service } = setup({ trusted: false });
    const created = await service.create('user-1', 'k');
    await service.authenticate(`Bearer ${created.key}`);
    await service.authenticate(`Bearer ${created.key}`);
    expect(store.lookups).toBe(2);
  });

  it('refuses a revoked key at once in the revoking process and announces the revocation', async () => {
    const { store, service } = setup();
    const created = await service.create('user-1', 'k');
    await service.authenticate(`Bearer ${created.key}`);
    await service.revoke('user-1', created.record.id);
    expect(store.revoked).toEqual([created.record.prefix]);
    await expect(service.authenticate(`Bearer ${created.key}`)).rejects.toMatchObject({
      code: 'revoked_api_key',
    });
  });

  it('evicting a prefix (a NOTIFY from another process) makes the next request read the store', async () => {
    const { store, cache, service } = setup();
    const created = await service.create('user-1', 'k');
    await service.authenticate(`Bearer ${created.key}`);
    // Another process revoked it: the row changed, this process only hears the notification.
    store.keys.get(created.record.id)!.revokedAt = new Date();
    await expect(service.authenticate(`Bearer ${created.key}`)).resolves.toBeDefined();
    cache.delete(created.record.prefix);
    await expect(service.authenticate(`Bearer ${created.key}`)).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it('does not cache a credential read before a concurrent eviction', async () => {
    const { store, cache, service } = setup();
    const created = await service.create('user-1', 'k');
    const original = store.findCredential.bind(store);
    store.findCredential = async (prefix) => {
      const credential = await original(prefix);
      cache.delete(prefix); // the NOTIFY arrives while the lookup is in flight
      return credential;
    };
    await service.authenticate(`Bearer ${created.key}`);
    expect(cache.size).toBe(0);
  });

  it('reads the store once for concurrent requests that miss the cache together', async () => {
    const { store, service } = setup();
    const created = await service.create('user-1', 'k');
    const principals = await Promise.all(
      Array.from({ length: 5 }, () => service.authenticate(`Bearer ${created.key}`)),
    );
    expect(principals).toEqual(Array(5).fill({ userId: 'user-1', keyId: created.record.id }));
    expect(store.lookups).toBe(1);
  });

  it('a request after an eviction does not join a read that began before it; an untrusted cache shares none', async () => {
    const { store, cache, service } = setup();
    const created = await service.create('user-1', 'k');
    const first = service.authenticate(`Bearer ${created.key}`);
    cache.delete(created.record.prefix); // a NOTIFY while the first read is in flight
    const second = service.authenticate(`Bearer ${created.key}`);
    await Promise.all([first, second]);
    expect(store.lookups).toBe(2);

    const untrusted = setup({ trusted: false });
    const key = (await untrusted.service.create('user-1', 'k')).key;
    await Promise.all([1, 2, 3].map(() => untrusted.service.authenticate(`Bearer ${key}`)));
    expect(untrusted.store.lookups).toBe(3);
  });

  it('concurrent requests whose shared read finds the database unreachable each answer from memory or 503', async () => {
    const { store, service, health } = setup();
    const created = await service.create('user-1', 'k');
    store.unreachable = true;
    const results = await Promise.allSettled(
      [1, 2, 3].map(() => service.authenticate(`Bearer ${created.key}`)),
    );
    expect(results.map((r) => r.status === 'rejected' && r.reason)).toEqual(
      Array(3).fill(expect.any(DatabaseUnavailableError)),
    );
    expect(health.reported).toHaveLength(1);
  });

  it('hashes a secret once per cached credential; other secrets and a new entry are hashed again', async () => {
    const { store, cache, service } = setup();
    const created = await service.create('user-1', 'k');
    await service.authenticate(`Bearer ${created.key}`);
    // Were the secret hashed again, it would no longer match this stored hash.
    cache.get(created.record.prefix)!.secretSha256 = Buffer.alloc(32);
    await expect(service.authenticate(`Bearer ${created.key}`)).resolves.toBeDefined();
    const wrongSecret = `${created.key.slice(0, 16)}${generateKey().key.slice(16)}`;
    await expect(service.authenticate(`Bearer ${wrongSecret}`)).rejects.toMatchObject({
      code: 'invalid_api_key',
    });
    // A new entry (after an eviction) has matched nothing yet: its own hash decides.
    cache.delete(created.record.prefix);
    store.keys.get(created.record.id)!.secretSha256 = Buffer.alloc(32);
    await expect(service.authenticate(`Bearer ${created.key}`)).rejects.toMatchObject({
      code: 'invalid_api_key',
    });
  });

  it("refuses other users' keys on revoke, unknown prefixes, wrong secrets and disabled accounts", async () => {
    const { store, cache, service } = setup();
    const created = await service.create('user-1', 'k');
    await expect(service.revoke('user-2', created.record.id)).rejects.toMatchObject({ status: 404 });
    await expect(service.authenticate(undefined)).rejects.toMatchObject({ code: 'missing_api_key' });
    await expect(service.authenticate(`Bearer ${generateKey().key}`)).rejects.toMatchObject({
      code: 'invalid_api_key',
    });
    const wrongSecret = `${created.key.slice(0, 16)}${generateKey().key.slice(16)}`;
    await expect(service.authenticate(`Bearer ${wrongSecret}`)).rejects.toMatchObject({
      code: 'invalid_api_key',
    });
    store.inactiveUsers.add('user-1');
    cache.clear(); // what the '*' notification does after a user is deactivated
    await expect(service.authenticate(`Bearer ${created.key}`)).rejects.toMatchObject({
      code: 'account_disabled',
    });
  });
});

describe('KeyService during a database outage', () => {
  it('accepts a key the database confirmed within KEY_CACHE_OUTAGE_TTL from memory, without asking the store', async () => {
    const { store, service, clock, outage } = setup({ outageTtlMs: 300_000 });
    const created = await service.create('user-1', 'k');
    await service.authenticate(`Bearer ${created.key}`);
    outage();
    clock.advance(299_000);
    await expect(service.authenticate(`Bearer ${created.key}`)).resolves.toMatchObject({ userId: 'user-1' });
    expect(store.lookups).toBe(1);
    clock.advance(2_000);
    await expect(service.authenticate(`Bearer ${created.key}`)).rejects.toMatchObject({
      status: 503,
      code: 'database_unavailable',
      headers: { 'Retry-After': '5' },
    });
  });

  it('works from memory while the cache is untrusted (the listener went down with the database)', async () => {
    const { cache, service, outage } = setup();
    const created = await service.create('user-1', 'k');
    await service.authenticate(`Bearer ${created.key}`);
    cache.setTrusted(false);
    outage();
    await expect(service.authenticate(`Bearer ${created.key}`)).resolves.toBeDefined();
  });

  it('answers 503, never 401, for a key it has not seen; still 401 for a wrong secret of a known key', async () => {
    const { service, outage } = setup();
    const seen = await service.create('user-1', 'seen');
    const unseen = await service.create('user-1', 'unseen');
    await service.authenticate(`Bearer ${seen.key}`);
    outage();
    const refused = service.authenticate(`Bearer ${unseen.key}`);
    await expect(refused).rejects.toBeInstanceOf(DatabaseUnavailableError);
    await expect(refused).rejects.toMatchObject({ status: 503, code: 'database_unavailable' });
    const wrongSecret = `${seen.key.slice(0, 16)}${generateKey().key.slice(16)}`;
    await expect(service.authenticate(`Bearer ${wrongSecret}`)).rejects.toMatchObject({
      code: 'invalid_api_key',
    });
    await expect(service.authenticate('Bearer nonsense')).rejects.toMatchObject({ code: 'invalid_api_key' });
  });

  it('falls back to memory when the lookup itself fails for a connection reason, and reports it', async () => {
    const { store, service, health } = setup({ trusted: false });
    const created = await service.create('user-1', 'k');
    await service.authenticate(`Bearer ${created.key}`);
    store.unreachable = true; // the detector has not noticed yet
    await expect(service.authenticate(`Bearer ${created.key}`)).resolves.toBeDefined();
    expect(health.reported).toHaveLength(1);
  });

  it('passes other store failures on (a bug is not an outage)', async () => {
    const { store, service } = setup({ trusted: false });
    const created = await service.create('user-1', 'k');
    await service.authenticate(`Bearer ${created.key}`);
    store.findCredential = async () => {
      throw new Error('column "prefix" does not exist');
    };
    await expect(service.authenticate(`Bearer ${created.key}`)).rejects.toThrow('column "prefix"');
  });

  it('with KEY_CACHE_OUTAGE_TTL=0 every key check answers 503 during an outage', async () => {
    const { service, outage } = setup({ outageTtlMs: 0 });
    const created = await service.create('user-1', 'k');
    await service.authenticate(`Bearer ${created.key}`);
    outage();
    await expect(service.authenticate(`Bearer ${created.key}`)).rejects.toMatchObject({ status: 503 });
  });

  it('catches up on return: a key revoked or deleted elsewhere meanwhile is refused, in one query', async () => {
    const { store, service, outage, recover } = setup();
    const revoked = await service.create('user-1', 'revoked');
    const deleted = await service.create('user-1', 'deleted');
    const kept = await service.create('user-1', 'kept');
    for (const key of [revoked, deleted, kept]) await service.authenticate(`Bearer ${key.key}`);
    outage();
    // Another pod revokes and deletes while this one cannot hear about it.
    store.keys.get(revoked.record.id)!.revokedAt = new Date();
    store.keys.delete(deleted.record.id);
    await expect(service.authenticate(`Bearer ${revoked.key}`)).resolves.toBeDefined();
    await recover();
    expect(store.batchLookups).toBe(1);
    const lookups = store.lookups;
    await expect(service.authenticate(`Bearer ${revoked.key}`)).rejects.toMatchObject({
      code: 'revoked_api_key',
    });
    await expect(service.authenticate(`Bearer ${deleted.key}`)).rejects.toMatchObject({
      code: 'invalid_api_key',
    });
    await expect(service.authenticate(`Bearer ${kept.key}`)).resolves.toBeDefined();
    // The revoked and kept keys came from the caught-up cache; only the deleted one was looked for again.
    expect(store.lookups - lookups).toBe(1);
    // And in the next outage the caught-up entries are what memory holds.
    outage();
    await expect(service.authenticate(`Bearer ${revoked.key}`)).rejects.toMatchObject({
      code: 'revoked_api_key',
    });
    await expect(service.authenticate(`Bearer ${deleted.key}`)).rejects.toMatchObject({ status: 503 });
  });
});

describe('CredentialCache', () => {
  const credential = (prefix: string, keyActive = true) => ({
    id: prefix,
    userId: 'u',
    prefix,
    secretSha256: Buffer.alloc(32),
    keyActive,
    userActive: true,
  });
  const cacheAt = (clock: { t: number }, maxEntries = 10) =>
    new CredentialCache({ ttlMs: 100, outageTtlMs: 1_000, maxEntries, now: () => clock.t });

  it('serves entries within the TTL while trusted, and stays bounded', () => {
    const clock = { t: 0 };
    const cache = cacheAt(clock, 2);
    cache.setTrusted(true);
    cache.set(credential('a'), cache.beginRead());
    expect(cache.get('a')).toBeDefined();
    clock.t = 100;
    expect(cache.get('a')).toBeUndefined();
    for (const p of ['x', 'y', 'z']) cache.set(credential(p), cache.beginRead());
    expect(cache.size).toBe(2);
    expect(cache.recall('x')).toBeUndefined();
  });

  it('keeps entries while untrusted for `recall` only, within the outage TTL', () => {
    const clock = { t: 0 };
    const cache = cacheAt(clock);
    cache.set(credential('a'), cache.beginRead());
    expect(cache.get('a')).toBeUndefined();
    expect(cache.recall('a')).toBeDefined();
    cache.setTrusted(true);
    expect(cache.get('a')).toBeDefined();
    cache.setTrusted(false);
    expect(cache.get('a')).toBeUndefined();
    clock.t = 1_000;
    expect(cache.recall('a')).toBeDefined();
    clock.t = 1_001;
    expect(cache.recall('a')).toBeUndefined();
  });

  it('dates an entry from the start of its read, and drops a read that raced with an eviction', () => {
    const clock = { t: 0 };
    const cache = cacheAt(clock);
    const read = cache.beginRead();
    clock.t = 500;
    cache.set(credential('a'), read);
    clock.t = 1_001;
    expect(cache.recall('a')).toBeUndefined();
    const raced = cache.beginRead();
    cache.delete('b');
    cache.set(credential('b'), raced);
    expect(cache.recall('b')).toBeUndefined();
  });

  it('catch-up replaces what it re-read, drops what is gone, and leaves evicted or newer entries alone', () => {
    const clock = { t: 0 };
    const cache = cacheAt(clock);
    for (const p of ['revoked', 'gone', 'evicted', 'newer', 'old'])
      cache.set(credential(p), cache.beginRead());
    clock.t = 10;
    const snapshot = cache.snapshot();
    expect(snapshot.prefixes.sort()).toEqual(['evicted', 'gone', 'newer', 'old', 'revoked']);
    // While the catch-up query runs: a NOTIFY evicts one key, a request reads another one again.
    cache.delete('evicted');
    clock.t = 20;
    cache.set(credential('newer', true), cache.beginRead());
    cache.applyCatchUp(snapshot, [
      credential('revoked', false),
      credential('evicted', true),
      credential('newer', false),
      credential('old', true),
    ]);
    expect(cache.recall('revoked')?.keyActive).toBe(false);
    expect(cache.recall('gone')).toBeUndefined();
    expect(cache.recall('evicted')).toBeUndefined();
    expect(cache.recall('newer')?.keyActive).toBe(true);
    // Re-read at 10: valid for the outage TTL from then.
    clock.t = 1_010;
    expect(cache.recall('old')).toBeDefined();
  });

  it('leaves entries too old for any use out of the catch-up', () => {
    const clock = { t: 0 };
    const cache = cacheAt(clock);
    cache.set(credential('ancient'), cache.beginRead());
    clock.t = 2_000;
    cache.set(credential('recent'), cache.beginRead());
    expect(cache.snapshot().prefixes).toEqual(['recent']);
  });
});

describe('LastUseRecorder', () => {
  it('writes each key at most once per resolution, in batches, never on the request path', async () => {
    let now = 1_000_000;
    const store = new FakeKeyStore();
    const recorder = new LastUseRecorder(store, silentLogger(), {
      resolutionMs: 60_000,
      flushIntervalMs: 1_000,
      maxPending: 100,
      health: new FakeHealth(),
      now: () => now,
    });
    for (let i = 0; i < 100; i += 1) recorder.used('k1');
    recorder.used('k2');
    expect(store.lastUseWrites).toHaveLength(0);
    await recorder.flush();
    expect(store.lastUseWrites).toHaveLength(1);
    expect(store.lastUseWrites[0]!.map((u) => u.id).sort()).toEqual(['k1', 'k2']);
    now += 30_000;
    recorder.used('k1');
    await recorder.flush();
    expect(store.lastUseWrites).toHaveLength(1);
    now += 31_000;
    recorder.used('k1');
    await recorder.flush();
    expect(store.lastUseWrites[1]).toEqual([{ id: 'k1', at: new Date(now) }]);
  });

  it('keeps uses whose write failed for the next flush', async () => {
    const store = new FakeKeyStore();
    let fail = true;
    const original = store.recordLastUse.bind(store);
    store.recordLastUse = async (uses) => {
      if (fail) throw new Error('database down');
      return original(uses);
    };
    const recorder = new LastUseRecorder(store, silentLogger(), {
      resolutionMs: 60_000,
      flushIntervalMs: 1_000,
      maxPending: 100,
      health: new FakeHealth(),
    });
    recorder.used('k1');
    await recorder.flush();
    expect(recorder.pendingCount).toBe(1);
    fail = false;
    await recorder.stop();
    expect(store.lastUseWrites.flat().map((u) => u.id)).toEqual(['k1']);
  });

  it('keeps uses through an outage without trying or logging, and writes them when the database is back', async () => {
    const store = new FakeKeyStore();
    const health = new FakeHealth();
    const logs = new LogCapture();
    const recorder = new LastUseRecorder(store, createLogger({ component: 'test', destination: logs }), {
      resolutionMs: 60_000,
      flushIntervalMs: 1_000,
      maxPending: 2,
      health,
    });
    recorder.start();
    health.down();
    store.unreachable = true;
    recorder.used('k1');
    recorder.used('k2');
    recorder.used('k3'); // beyond the bound: dropped and counted
    await recorder.flush();
    expect(store.lastUseWrites).toHaveLength(0);
    expect(recorder.pendingCount).toBe(2);
    expect(recorder.droppedCount).toBe(1);
    store.unreachable = false;
    await health.up();
    await recorder.flush(); // the flush started by `up` is chained before this one
    expect(store.lastUseWrites.flat().map((u) => u.id)).toEqual(['k1', 'k2']);
    expect(recorder.pendingCount).toBe(0);
    await recorder.stop();
    expect(logs.lines).toEqual([]);
  });
});

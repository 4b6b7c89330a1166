import { silentLogger } from '../../../core/logger';
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
import { UnauthorizedError } from '../../../app/http/errors';

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

function setup(options: { cacheEnabled?: boolean } = {}) {
  const store = new FakeKeyStore();
  const cache = new CredentialCache({ ttlMs: 60_000, maxEntries: 100 });
  cache.setEnabled(options.cacheEnabled ?? true);
  const recorder = new LastUseRecorder(store, silentLogger(), {
    resolutionMs: 60_000,
    flushIntervalMs: 1_000,
  });
  const service = new KeyService(store, cache, recorder, silentLogger());
  return { store, cache, recorder, service };
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

  it('asks the store every time while the cache is disabled (revocations might be missed)', async () => {
    const { store, service } = setup({ cacheEnabled: false });
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

describe('CredentialCache', () => {
  const credential = (prefix: string) => ({
    id: prefix,
    userId: 'u',
    prefix,
    secretSha256: Buffer.alloc(32),
    keyActive: true,
    userActive: true,
  });

  it('expires entries after the TTL and stays bounded', () => {
    let now = 0;
    const cache = new CredentialCache({ ttlMs: 100, maxEntries: 2, now: () => now });
    cache.setEnabled(true);
    cache.set(credential('a'), cache.version);
    expect(cache.get('a')).toBeDefined();
    now = 100;
    expect(cache.get('a')).toBeUndefined();
    for (const p of ['x', 'y', 'z']) cache.set(credential(p), cache.version);
    expect(cache.size).toBe(2);
    expect(cache.get('x')).toBeUndefined();
  });

  it('holds nothing while disabled, and is emptied when disabled', () => {
    const cache = new CredentialCache({ ttlMs: 100, maxEntries: 10 });
    cache.set(credential('a'), cache.version);
    expect(cache.size).toBe(0);
    cache.setEnabled(true);
    cache.set(credential('a'), cache.version);
    cache.setEnabled(false);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});

describe('LastUseRecorder', () => {
  it('writes each key at most once per resolution, in batches, never on the request path', async () => {
    let now = 1_000_000;
    const store = new FakeKeyStore();
    const recorder = new LastUseRecorder(store, silentLogger(), {
      resolutionMs: 60_000,
      flushIntervalMs: 1_000,
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
    });
    recorder.used('k1');
    await recorder.flush();
    expect(recorder.pendingCount).toBe(1);
    fail = false;
    await recorder.stop();
    expect(store.lastUseWrites.flat().map((u) => u.id)).toEqual(['k1']);
  });
});

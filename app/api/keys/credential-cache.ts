import { timingSafeEqual } from 'node:crypto';
import type { KeyCredential } from './key-store';

export interface CredentialCacheOptions {
  /** How long a credential read from the database is served without asking again, while the cache is trusted. */
  ttlMs: number;
  /** How long after it was read a credential is still accepted while the database is unreachable (0: never). */
  outageTtlMs: number;
  maxEntries: number;
  now?: () => number;
}

/** Taken before reading the database; `set` refuses what was read across an eviction. */
export interface ReadToken {
  epoch: number;
  at: number;
}

/** The cached prefixes at one moment, to be re-read in one query (`applyCatchUp`). */
export interface CacheSnapshot {
  prefixes: string[];
  at: number;
}

interface Entry {
  credential: KeyCredential;
  /** When the database last confirmed this credential (the start of the read). */
  verifiedAt: number;
  /** The secret that matched `credential.secretSha256`, once one has: a repeat is compared, not hashed. */
  matched?: Buffer;
}

/**
 * Copies of key credentials by prefix, with the time the database last confirmed each. Two ways to read it:
 * - `get`: the normal path, only while the cache is `trusted` (the revocation listener is connected and has caught
 *   up), so a process that might miss a NOTIFY asks the database every time;
 * - `recall`: during a database outage, any credential confirmed within `outageTtlMs`, trusted or not.
 * Entries are kept while untrusted (an outage usually starts by losing the listener) and are brought up to date
 * in one query (`snapshot` then `applyCatchUp`) before the cache is trusted again. An entry also remembers the
 * secret that matched it, for as long as that entry lives (a new read, eviction or catch-up replaces it).
 */
export class CredentialCache {
  private readonly entries = new Map<string, Entry>();
  private trusted = false;
  /** Bumped by every eviction, so a lookup that raced with a revocation does not cache what it read. */
  private epoch = 0;
  private readonly now: () => number;

  constructor(private readonly options: CredentialCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  get(prefix: string): KeyCredential | undefined {
    if (!this.trusted) return undefined;
    const entry = this.entries.get(prefix);
    if (!entry || this.now() - entry.verifiedAt >= this.options.ttlMs) return undefined;
    return entry.credential;
  }

  /** For a database outage: the credential if the database confirmed it within `outageTtlMs`. */
  recall(prefix: string): KeyCredential | undefined {
    const entry = this.entries.get(prefix);
    if (!entry || this.options.outageTtlMs <= 0) return undefined;
    if (this.now() - entry.verifiedAt > this.options.outageTtlMs) return undefined;
    return entry.credential;
  }

  /** Whether `secret` already matched this cached credential (compared in constant time); false when not cached. */
  matched(credential: KeyCredential, secret: string): boolean {
    const entry = this.entries.get(credential.prefix);
    if (entry?.credential !== credential || !entry.matched) return false;
    const given = Buffer.from(secret, 'latin1');
    return given.length === entry.matched.length && timingSafeEqual(given, entry.matched);
  }

  /** Remembers that `secret` matched this cached credential's hash (nothing when it is not the cached one). */
  rememberMatch(credential: KeyCredential, secret: string): void {
    const entry = this.entries.get(credential.prefix);
    if (entry?.credential === credential) entry.matched = Buffer.from(secret, 'latin1');
  }

  beginRead(): ReadToken {
    return { epoch: this.epoch, at: this.now() };
  }

  /** Whether no eviction came since `read` began: what it reads may still be cached, and shared. */
  isCurrent(read: ReadToken): boolean {
    return read.epoch === this.epoch;
  }

  set(credential: KeyCredential, read: ReadToken): void {
    if (read.epoch !== this.epoch) return;
    this.entries.delete(credential.prefix);
    if (this.entries.size >= this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(credential.prefix, { credential, verifiedAt: read.at });
  }

  delete(prefix: string): void {
    this.epoch += 1;
    this.entries.delete(prefix);
  }

  clear(): void {
    this.epoch += 1;
    this.entries.clear();
  }

  /** The prefixes worth re-reading (entries too old for either use are dropped first). */
  snapshot(): CacheSnapshot {
    const at = this.now();
    const keep = Math.max(this.options.ttlMs, this.options.outageTtlMs);
    for (const [prefix, entry] of this.entries) if (at - entry.verifiedAt > keep) this.entries.delete(prefix);
    return { prefixes: [...this.entries.keys()], at };
  }

  /**
   * Replaces each snapshotted entry with what the database returned at `snapshot.at`, and drops those it no longer
   * has (deleted keys). Entries evicted meanwhile (a NOTIFY) stay evicted; entries read again meanwhile keep the
   * newer read.
   */
  applyCatchUp(snapshot: CacheSnapshot, found: readonly KeyCredential[]): void {
    const byPrefix = new Map(found.map((credential) => [credential.prefix, credential]));
    for (const prefix of snapshot.prefixes) {
      const entry = this.entries.get(prefix);
      if (!entry || entry.verifiedAt > snapshot.at) continue;
      const credential = byPrefix.get(prefix);
      if (credential) this.entries.set(prefix, { credential, verifiedAt: snapshot.at });
      else this.entries.delete(prefix);
    }
  }

  /** Trusted while revocations are received and the cache has caught up; untrusting keeps the entries. */
  setTrusted(trusted: boolean): void {
    this.trusted = trusted;
  }

  get isTrusted(): boolean {
    return this.trusted;
  }

  get size(): number {
    return this.entries.size;
  }
}

import type { KeyCredential } from './key-store';

export interface CredentialCacheOptions {
  ttlMs: number;
  maxEntries: number;
  now?: () => number;
}

/**
 * Short-lived copies of key credentials by prefix. Only trusted while the revocation listener is connected
 * (`enabled`): a process that might miss a NOTIFY must ask the database every time.
 */
export class CredentialCache {
  private readonly entries = new Map<string, { credential: KeyCredential; expiresAt: number }>();
  private enabled = false;
  /** Bumped by every eviction, so a lookup that raced with a revocation does not cache what it read. */
  private epoch = 0;
  private readonly now: () => number;

  constructor(private readonly options: CredentialCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  get(prefix: string): KeyCredential | undefined {
    if (!this.enabled) return undefined;
    const entry = this.entries.get(prefix);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(prefix);
      return undefined;
    }
    return entry.credential;
  }

  /** Take before reading the database; pass to set(). */
  get version(): number {
    return this.epoch;
  }

  set(credential: KeyCredential, readAtVersion: number): void {
    if (!this.enabled || readAtVersion !== this.epoch) return;
    if (this.entries.size >= this.options.maxEntries && !this.entries.has(credential.prefix)) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(credential.prefix, { credential, expiresAt: this.now() + this.options.ttlMs });
  }

  delete(prefix: string): void {
    this.epoch += 1;
    this.entries.delete(prefix);
  }

  clear(): void {
    this.epoch += 1;
    this.entries.clear();
  }

  /** Turns caching on (listener connected) or off and empties it (listener lost: notifications may be missed). */
  setEnabled(enabled: boolean): void {
    this.clear();
    this.enabled = enabled;
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  get size(): number {
    return this.entries.size;
  }
}

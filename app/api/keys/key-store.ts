import type { Page, PageResult } from '../schemas';

export interface ApiKeyRecord {
  id: string;
  userId: string;
  name: string;
  prefix: string;
  isActive: boolean;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** What authentication needs about a key, looked up by prefix. */
export interface KeyCredential {
  id: string;
  userId: string;
  prefix: string;
  secretSha256: Buffer;
  /** The key is active and not revoked. */
  keyActive: boolean;
  userActive: boolean;
}

export interface NewKey {
  userId: string;
  name: string;
  prefix: string;
  secretSha256: Buffer;
}

export interface LastUse {
  id: string;
  at: Date;
}

export interface KeyStore {
  findCredential(prefix: string): Promise<KeyCredential | undefined>;
  /** The credentials of those prefixes that still exist, in one query (the cache's catch-up after an outage). */
  findCredentials(prefixes: readonly string[]): Promise<KeyCredential[]>;
  insert(key: NewKey): Promise<ApiKeyRecord>;
  listForUser(userId: string, page: Page): Promise<PageResult<ApiKeyRecord>>;
  /**
   * Marks the user's key revoked and announces it to every process (NOTIFY in the same transaction).
   * Undefined when the user has no such key.
   */
  revoke(userId: string, id: string): Promise<ApiKeyRecord | undefined>;
  /** Moves last_used_at forward (never back) for a batch of keys. */
  recordLastUse(uses: readonly LastUse[]): Promise<void>;
}

/** PostgreSQL channel announcing revoked keys; the payload is the key's prefix. */
export const REVOCATION_CHANNEL = 'modelgate_api_key_revoked';

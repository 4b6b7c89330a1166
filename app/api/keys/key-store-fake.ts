import { randomUUID } from 'node:crypto';
import type { Page, PageResult } from '../schemas';
import type { ApiKeyRecord, KeyCredential, KeyStore, LastUse, NewKey } from './key-store';

/** In-memory KeyStore for unit tests. `revoked` lists the prefixes that would have been NOTIFYed. */
export class FakeKeyStore implements KeyStore {
  readonly keys = new Map<string, ApiKeyRecord & { secretSha256: Buffer }>();
  readonly inactiveUsers = new Set<string>();
  readonly revoked: string[] = [];
  readonly lastUseWrites: LastUse[][] = [];
  lookups = 0;
  batchLookups = 0;
  /** Set to make every call fail as a database outage would (ECONNREFUSED). */
  unreachable = false;

  private failIfUnreachable(): void {
    if (this.unreachable) throw connectionRefused();
  }

  async findCredential(prefix: string): Promise<KeyCredential | undefined> {
    this.failIfUnreachable();
    this.lookups += 1;
    const key = [...this.keys.values()].find((k) => k.prefix === prefix);
    if (!key) return undefined;
    return {
      id: key.id,
      userId: key.userId,
      prefix: key.prefix,
      secretSha256: key.secretSha256,
      keyActive: key.isActive && key.revokedAt === null,
      userActive: !this.inactiveUsers.has(key.userId),
    };
  }

  async findCredentials(prefixes: readonly string[]): Promise<KeyCredential[]> {
    this.failIfUnreachable();
    this.batchLookups += 1;
    const found: KeyCredential[] = [];
    for (const prefix of prefixes) {
      const credential = await this.findCredential(prefix);
      this.lookups -= 1;
      if (credential) found.push(credential);
    }
    return found;
  }

  async insert(key: NewKey): Promise<ApiKeyRecord> {
    this.failIfUnreachable();
    if ([...this.keys.values()].some((k) => k.prefix === key.prefix)) throw new Error('duplicate prefix');
    const record = {
      id: randomUUID(),
      userId: key.userId,
      name: key.name,
      prefix: key.prefix,
      isActive: true,
      createdAt: new Date(),
      lastUsedAt: null,
      revokedAt: null,
      secretSha256: key.secretSha256,
    };
    this.keys.set(record.id, record);
    return strip(record);
  }

  async listForUser(userId: string, page: Page): Promise<PageResult<ApiKeyRecord>> {
    this.failIfUnreachable();
    const all = [...this.keys.values()].filter((k) => k.userId === userId).reverse();
    return { items: all.slice(page.skip, page.skip + page.limit).map(strip), total: all.length };
  }

  async revoke(userId: string, id: string): Promise<ApiKeyRecord | undefined> {
    this.failIfUnreachable();
    const key = this.keys.get(id);
    if (!key || key.userId !== userId) return undefined;
    key.isActive = false;
    key.revokedAt ??= new Date();
    this.revoked.push(key.prefix);
    return strip(key);
  }

  async recordLastUse(uses: readonly LastUse[]): Promise<void> {
    this.failIfUnreachable();
    this.lastUseWrites.push([...uses]);
    for (const use of uses) {
      const key = this.keys.get(use.id);
      if (key && (!key.lastUsedAt || key.lastUsedAt < use.at)) key.lastUsedAt = use.at;
    }
  }
}

/** What node-postgres throws when nothing listens on the database's port. */
export function connectionRefused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
}

function strip(key: ApiKeyRecord & { secretSha256: Buffer }): ApiKeyRecord {
  const { secretSha256: _secret, ...record } = key;
  return { ...record };
}

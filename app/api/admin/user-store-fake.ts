import { randomUUID } from 'node:crypto';
import type { ApiKeyRecord } from '../keys/key-store';
import type { FakeKeyStore } from '../keys/key-store-fake';
import type { Page, PageResult } from '../schemas';
import type { FirstKey, UserRecord, UserStore } from './user-store';

/** In-memory UserStore for unit tests; keys go into the given FakeKeyStore. */
export class FakeUserStore implements UserStore {
  readonly users: UserRecord[] = [];

  constructor(private readonly keys: FakeKeyStore) {}

  async createWithKey(
    name: string,
    key: FirstKey,
  ): Promise<{ user: UserRecord; key: ApiKeyRecord } | undefined> {
    if (this.users.some((u) => u.name === name)) return undefined;
    const user = { id: randomUUID(), name, isActive: true, createdAt: new Date() };
    this.users.push(user);
    return { user, key: await this.keys.insert({ userId: user.id, ...key }) };
  }

  async list(page: Page): Promise<PageResult<UserRecord>> {
    const all = [...this.users].reverse();
    return { items: all.slice(page.skip, page.skip + page.limit), total: all.length };
  }
}

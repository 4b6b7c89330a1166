import type { ApiKeyRecord } from '../keys/key-store';
import type { Page, PageResult } from '../schemas';

export interface UserRecord {
  id: string;
  name: string;
  isActive: boolean;
  createdAt: Date;
}

export interface FirstKey {
  name: string;
  prefix: string;
  secretSha256: Buffer;
}

export interface UserStore {
  /** Creates the user and the key in one transaction; undefined when the name is taken. */
  createWithKey(name: string, key: FirstKey): Promise<{ user: UserRecord; key: ApiKeyRecord } | undefined>;
  list(page: Page): Promise<PageResult<UserRecord>>;
}

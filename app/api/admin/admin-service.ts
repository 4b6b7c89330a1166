import { ConflictError } from '../../http/errors';
import { generateKey } from '../keys/key-format';
import type { ApiKeyRecord } from '../keys/key-store';
import type { Page, PageResult } from '../schemas';
import type { UserRecord, UserStore } from './user-store';

export interface CreatedUser {
  user: UserRecord;
  key: ApiKeyRecord;
  /** The first key in full; shown once. */
  secretKey: string;
}

export class AdminService {
  constructor(private readonly users: UserStore) {}

  async createUser(name: string, keyName: string): Promise<CreatedUser> {
    const generated = generateKey();
    const created = await this.users.createWithKey(name, {
      name: keyName,
      prefix: generated.prefix,
      secretSha256: generated.secretSha256,
    });
    if (!created) {
      throw new ConflictError(`A user named ${JSON.stringify(name)} already exists; choose another name.`, {
        code: 'user_exists',
        param: 'name',
      });
    }
    return { ...created, secretKey: generated.key };
  }

  list(page: Page): Promise<PageResult<UserRecord>> {
    return this.users.list(page);
  }
}

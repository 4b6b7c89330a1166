import type { Knex } from 'knex';
import { insertKey } from '../keys/key-store-knex';
import type { ApiKeyRecord } from '../keys/key-store';
import type { Page, PageResult } from '../schemas';
import { recordOf } from '../row-record';
import type { FirstKey, UserRecord, UserStore } from './user-store';

interface UserRow {
  id: string;
  name: string;
  is_active: boolean;
  created_at: Date;
}

const COLUMNS = ['id', 'name', 'is_active', 'created_at'];

const toUser = (row: UserRow): UserRecord => recordOf(row);

export class KnexUserStore implements UserStore {
  constructor(private readonly db: Knex) {}

  createWithKey(name: string, key: FirstKey): Promise<{ user: UserRecord; key: ApiKeyRecord } | undefined> {
    return this.db.transaction(async (trx) => {
      const [row] = await trx('users').insert({ name }).onConflict('name').ignore().returning(COLUMNS);
      if (!row) return undefined;
      const user = toUser(row as UserRow);
      const record = await insertKey(trx, { userId: user.id, ...key });
      return { user, key: record };
    });
  }

  async list(page: Page): Promise<PageResult<UserRecord>> {
    const [rows, count] = await Promise.all([
      this.db('users')
        .select(COLUMNS)
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .offset(page.skip)
        .limit(page.limit),
      this.db('users').count<{ count: string }[]>({ count: '*' }),
    ]);
    return { items: (rows as UserRow[]).map(toUser), total: Number(count[0]?.count ?? 0) };
  }
}

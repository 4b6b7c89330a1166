import type { Knex } from 'knex';
import type { Page, PageResult } from '../schemas';
import { recordOf } from '../row-record';
import {
  REVOCATION_CHANNEL,
  type ApiKeyRecord,
  type KeyCredential,
  type KeyStore,
  type LastUse,
  type NewKey,
} from './key-store';

interface KeyRow {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  is_active: boolean;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

interface CredentialRow {
  id: string;
  user_id: string;
  prefix: string;
  secret_sha256: Buffer;
  key_active: boolean;
  user_active: boolean;
}

const COLUMNS = ['id', 'user_id', 'name', 'prefix', 'is_active', 'created_at', 'last_used_at', 'revoked_at'];

const toKeyRecord = (row: KeyRow): ApiKeyRecord => recordOf(row);

export async function insertKey(db: Knex, key: NewKey): Promise<ApiKeyRecord> {
  const [row] = await db('api_keys')
    .insert({ user_id: key.userId, name: key.name, prefix: key.prefix, secret_sha256: key.secretSha256 })
    .returning(COLUMNS);
  return toKeyRecord(row as KeyRow);
}

export class KnexKeyStore implements KeyStore {
  constructor(private readonly db: Knex) {}

  async findCredential(prefix: string): Promise<KeyCredential | undefined> {
    const [credential] = await this.credentials([prefix]);
    return credential;
  }

  findCredentials(prefixes: readonly string[]): Promise<KeyCredential[]> {
    if (prefixes.length === 0) return Promise.resolve([]);
    return this.credentials(prefixes);
  }

  private async credentials(prefixes: readonly string[]): Promise<KeyCredential[]> {
    const query = this.db('api_keys as k').join('users as u', 'u.id', 'k.user_id');
    if (prefixes.length === 1) query.where('k.prefix', prefixes[0]!);
    else query.whereRaw('k.prefix = ANY(?::text[])', [prefixes as string[]]);
    const rows = await query.select<CredentialRow[]>(
      'k.id',
      'k.user_id',
      'k.prefix',
      'k.secret_sha256',
      this.db.raw('(k.is_active AND k.revoked_at IS NULL) AS key_active'),
      'u.is_active as user_active',
    );
    return rows.map((row) => ({
      id: row.id,
      userId: row.user_id,
      prefix: row.prefix,
      secretSha256: row.secret_sha256,
      keyActive: row.key_active,
      userActive: row.user_active,
    }));
  }

  insert(key: NewKey): Promise<ApiKeyRecord> {
    return insertKey(this.db, key);
  }

  async listForUser(userId: string, page: Page): Promise<PageResult<ApiKeyRecord>> {
    const [rows, count] = await Promise.all([
      this.db('api_keys')
        .select(COLUMNS)
        .where('user_id', userId)
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .offset(page.skip)
        .limit(page.limit),
      this.db('api_keys').where('user_id', userId).count<{ count: string }[]>({ count: '*' }),
    ]);
    return { items: (rows as KeyRow[]).map(toKeyRecord), total: Number(count[0]?.count ?? 0) };
  }

  revoke(userId: string, id: string): Promise<ApiKeyRecord | undefined> {
    return this.db.transaction(async (trx) => {
      const [row] = await trx('api_keys')
        .where({ id, user_id: userId })
        .update({
          is_active: false,
          revoked_at: trx.raw('COALESCE(revoked_at, now())'),
        })
        .returning(COLUMNS);
      if (!row) return undefined;
      // Delivered to every listening process when this transaction commits, never before.
      await trx.raw('SELECT pg_notify(?, ?)', [REVOCATION_CHANNEL, (row as KeyRow).prefix]);
      return toKeyRecord(row as KeyRow);
    });
  }

  async recordLastUse(uses: readonly LastUse[]): Promise<void> {
    if (uses.length === 0) return;
    await this.db.raw(
      `UPDATE api_keys AS k SET last_used_at = u.at
         FROM (SELECT unnest(?::uuid[]) AS id, unnest(?::timestamptz[]) AS at) AS u
        WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)`,
      [uses.map((u) => u.id), uses.map((u) => u.at.toISOString())],
    );
  }
}

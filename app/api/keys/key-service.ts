import type { Logger } from '../../../core/logger';
import { NotFoundError, UnauthorizedError } from '../../http/errors';
import type { Page, PageResult } from '../schemas';
import type { CredentialCache } from './credential-cache';
import { bearerToken, generateKey, parseKey, secretMatches } from './key-format';
import type { ApiKeyRecord, KeyCredential, KeyStore } from './key-store';
import type { LastUseRecorder } from './last-use-recorder';

/** Who is calling: resolved from the API key. */
export interface Principal {
  userId: string;
  keyId: string;
}

export interface CreatedKey {
  record: ApiKeyRecord;
  /** The full key; returned once, never stored. */
  key: string;
}

const MISSING =
  'Missing API key. Send it as "Authorization: Bearer sk-..."; an administrator creates your first key.';
const INVALID = 'Incorrect API key provided. Check the key, or create a new one with POST /v1/auth/keys.';

export class KeyService {
  constructor(
    private readonly store: KeyStore,
    private readonly cache: CredentialCache,
    private readonly lastUse: LastUseRecorder,
    private readonly logger: Logger,
  ) {}

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const token = bearerToken(authorization);
    if (token === undefined) throw new UnauthorizedError(MISSING, { code: 'missing_api_key' });
    const parsed = parseKey(token);
    if (!parsed) throw new UnauthorizedError(INVALID, { code: 'invalid_api_key' });
    const credential = await this.credential(parsed.prefix);
    if (!credential || !secretMatches(parsed.secret, credential.secretSha256)) {
      throw new UnauthorizedError(INVALID, { code: 'invalid_api_key' });
    }
    if (!credential.keyActive) {
      throw new UnauthorizedError('This API key was revoked. Use another key or create a new one.', {
        code: 'revoked_api_key',
      });
    }
    if (!credential.userActive) {
      throw new UnauthorizedError('The account of this API key is disabled. Ask an administrator.', {
        code: 'account_disabled',
      });
    }
    this.lastUse.used(credential.id);
    return { userId: credential.userId, keyId: credential.id };
  }

  async create(userId: string, name: string): Promise<CreatedKey> {
    for (let attempt = 1; ; attempt += 1) {
      const generated = generateKey();
      try {
        const record = await this.store.insert({
          userId,
          name,
          prefix: generated.prefix,
          secretSha256: generated.secretSha256,
        });
        return { record, key: generated.key };
      } catch (error) {
        // A 48-bit prefix collides rarely; a fresh key is the fix.
        if (attempt >= 3 || (error as { code?: string }).code !== '23505') throw error;
        this.logger.debug('API key prefix collision; generating another key');
      }
    }
  }

  list(userId: string, page: Page): Promise<PageResult<ApiKeyRecord>> {
    return this.store.listForUser(userId, page);
  }

  async revoke(userId: string, id: string): Promise<ApiKeyRecord> {
    const record = await this.store.revoke(userId, id);
    if (!record) throw new NotFoundError(`No API key ${id} among your keys.`, { code: 'key_not_found' });
    this.cache.delete(record.prefix);
    return record;
  }

  private async credential(prefix: string): Promise<KeyCredential | undefined> {
    const cached = this.cache.get(prefix);
    if (cached) return cached;
    const version = this.cache.version;
    const credential = await this.store.findCredential(prefix);
    if (credential) this.cache.set(credential, version);
    return credential;
  }
}

import { isDatabaseUnavailable } from '../../../core/db/errors';
import type { Logger } from '../../../core/logger';
import type { DatabaseHealth } from '../../database-health';
import {
  DATABASE_RETRY_AFTER_SECONDS,
  DatabaseUnavailableError,
  NotFoundError,
  UnauthorizedError,
} from '../../http/errors';
import type { Page, PageResult } from '../schemas';
import type { CredentialCache, ReadToken } from './credential-cache';
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
const UNCHECKED = `The API key could not be checked: the database is unreachable and this gateway has not seen the key recently. Retry in ${DATABASE_RETRY_AFTER_SECONDS} s.`;

/** A database read that found the database unreachable (reported to the health once, for every request sharing it). */
const UNREACHABLE = Symbol('unreachable');
type Lookup = Promise<KeyCredential | undefined | typeof UNREACHABLE>;

export class KeyService {
  /** Database reads in flight by prefix, with the read token each began with. */
  private readonly lookups = new Map<string, { read: ReadToken; result: Lookup }>();

  constructor(
    private readonly store: KeyStore,
    private readonly cache: CredentialCache,
    private readonly lastUse: LastUseRecorder,
    private readonly health: Pick<DatabaseHealth, 'reachable' | 'reportFailure'>,
    private readonly logger: Logger,
  ) {}

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const token = bearerToken(authorization);
    if (token === undefined) throw new UnauthorizedError(MISSING, { code: 'missing_api_key' });
    const parsed = parseKey(token);
    if (!parsed) throw new UnauthorizedError(INVALID, { code: 'invalid_api_key' });
    const credential = await this.credential(parsed.prefix);
    if (!credential || !this.secretMatches(parsed.secret, credential)) {
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

  /**
   * Re-reads every cached credential in one query, so revocations (and deleted keys or users) missed while the
   * revocation listener or the database was away are known before the cache is trusted again.
   */
  async catchUp(): Promise<void> {
    const snapshot = this.cache.snapshot();
    if (snapshot.prefixes.length === 0) return;
    const found = await this.store.findCredentials(snapshot.prefixes);
    this.cache.applyCatchUp(snapshot, found);
  }

  /** A secret that already matched the cached credential is compared with it; any other is hashed. */
  private secretMatches(secret: string, credential: KeyCredential): boolean {
    if (this.cache.matched(credential, secret)) return true;
    if (!secretMatches(secret, credential.secretSha256)) return false;
    this.cache.rememberMatch(credential, secret);
    return true;
  }

  private async credential(prefix: string): Promise<KeyCredential | undefined> {
    if (!this.health.reachable()) return this.fromMemory(prefix);
    const cached = this.cache.get(prefix);
    if (cached) return cached;
    const found = await this.lookup(prefix);
    return found === UNREACHABLE ? this.fromMemory(prefix) : found;
  }

  /**
   * Reads a prefix's credential from the database. While the cache is trusted, requests that miss it together share
   * one read (one key on many connections after a start, an expiry or an eviction), unless an eviction came after
   * that read began: it may have read what was revoked since, so a newer request reads again. While it is not
   * trusted, every request reads the database itself.
   */
  private lookup(prefix: string): Lookup {
    const pending = this.lookups.get(prefix);
    if (pending && this.cache.isTrusted && this.cache.isCurrent(pending.read)) return pending.result;
    const read = this.cache.beginRead();
    const result: Lookup = this.store.findCredential(prefix).then(
      (credential) => {
        if (credential) this.cache.set(credential, read);
        return credential;
      },
      (error: unknown) => {
        if (!isDatabaseUnavailable(error)) throw error;
        this.health.reportFailure(error);
        return UNREACHABLE;
      },
    );
    const entry = { read, result };
    this.lookups.set(prefix, entry);
    const forget = () => {
      if (this.lookups.get(prefix) === entry) this.lookups.delete(prefix);
    };
    result.then(forget, forget);
    return result;
  }

  /** During an outage: what the database confirmed within KEY_CACHE_OUTAGE_TTL, else 503 (never 401). */
  private fromMemory(prefix: string): KeyCredential {
    const known = this.cache.recall(prefix);
    if (known) return known;
    throw new DatabaseUnavailableError(UNCHECKED);
  }
}

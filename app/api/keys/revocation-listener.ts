import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { Client, type Notification } from 'pg';
import { isDatabaseUnavailable } from '../../../core/db/errors';
import type { Logger } from '../../../core/logger';
import type { DatabaseHealth } from '../../database-health';
import type { CredentialCache } from './credential-cache';
import { REVOCATION_CHANNEL } from './key-store';

export interface RevocationListenerOptions {
  url: string;
  db: Knex;
  cache: CredentialCache;
  /** Re-reads every cached credential (KeyService.catchUp): run before the cache is trusted again. */
  catchUp: () => Promise<void>;
  /** Told when the connection is lost or cannot be made, so an outage is noticed at once. */
  health?: Pick<DatabaseHealth, 'check' | 'reportFailure' | 'reachable'>;
  logger: Logger;
  /** Bound on opening the LISTEN connection (DB_CONNECT_TIMEOUT). */
  connectTimeoutMs?: number;
  /** How often the LISTEN path is proven to still deliver (a NOTIFY round trip through the pool). */
  heartbeatMs: number;
  /** How long a round trip may take before the listener counts as lost. */
  verifyTimeoutMs: number;
  reconnectMs: number;
}

/** Payload that empties the whole cache (e.g. a user was deactivated). */
export const REVOKE_ALL = '*';
const PING = 'ping:';

/**
 * Holds one dedicated connection that LISTENs for revoked keys and evicts them from this process's cache.
 * The cache is trusted only after a NOTIFY sent through the normal pool has come back on this connection, so a
 * pooler that swallows notifications (PgBouncer in transaction mode) leaves it untrusted instead of serving
 * revoked keys. Losing the connection untrusts the cache until a reconnect has been verified again and the cache
 * has caught up on what it may have missed meanwhile (one query re-reading every cached key).
 */
export class RevocationListener {
  private client: Client | undefined;
  private connectedAt = 0;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly waiting = new Map<string, () => void>();
  private warnedUndelivered = false;
  private connectFailing = false;

  constructor(private readonly options: RevocationListenerOptions) {}

  get connected(): boolean {
    return this.client !== undefined;
  }

  /** Connects once; a failure is logged and retried in the background (authentication keeps working uncached). */
  async start(): Promise<void> {
    this.closed = false;
    await this.connect();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.options.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.reconnectTimer);
    this.options.cache.setTrusted(false);
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new Client({
      connectionString: this.options.url,
      application_name: 'modelgate-key-revocation',
      ...(this.options.connectTimeoutMs ? { connectionTimeoutMillis: this.options.connectTimeoutMs } : {}),
    });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => this.onNotification(message));
    try {
      await client.connect();
      await client.query(`LISTEN ${REVOCATION_CHANNEL}`);
      if (this.closed) {
        await client.end();
        return;
      }
      this.client = client;
      this.connectedAt = Date.now();
      this.options.logger.debug('listening for API key revocations');
    } catch (error) {
      // During an outage the detector has said it once; the listener's retries are not news.
      if (!this.connectFailing && this.options.health?.reachable() !== false) {
        this.options.logger.warn(
          { err: error },
          'API key revocation listener cannot connect; retrying, keys are checked against the database on every request',
        );
        this.connectFailing = true;
      }
      this.options.health?.reportFailure(error);
      this.lost(client, error);
      return;
    }
    this.connectFailing = false;
    await this.heartbeat();
  }

  /** Drops a connection on purpose and reconnects at once (nothing to warn about). */
  private replace(client: Client): void {
    client.removeAllListeners('notification');
    client.removeAllListeners('end');
    client.removeAllListeners('error');
    client.on('error', () => undefined);
    client.end().catch(() => undefined);
    // end() waits for the server, which a dead connection never answers: close the socket as well.
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    this.client = undefined;
    this.options.cache.setTrusted(false);
    if (!this.closed) void this.connect();
  }

  private lost(client: Client, error?: unknown): void {
    client.removeAllListeners('notification');
    client.end().catch(() => undefined);
    if (this.client !== undefined && this.client !== client) return; // a connection already replaced
    const wasActive = this.client === client;
    this.client = undefined;
    this.options.cache.setTrusted(false);
    if (wasActive && !this.closed) {
      this.options.logger.warn(
        { err: error },
        'API key revocation listener lost; reconnecting, key lookups are not cached meanwhile',
      );
      // The database may be gone for every connection: let the outage detector find out now.
      void this.options.health?.check();
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer || this.client) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closed && !this.client) void this.connect();
    }, this.options.reconnectMs);
    this.reconnectTimer.unref();
  }

  /** Proves the LISTEN path now instead of at the next period. */
  reverify(): Promise<void> {
    return this.heartbeat();
  }

  /**
   * After a database outage: a connection opened before it began may be dead without knowing (a partition that
   * dropped packets sent no reset), and would never deliver a NOTIFY again. It is replaced; a newer one is proven.
   */
  renew(outageStart: Date | undefined): Promise<void> {
    const client = this.client;
    if (client && outageStart && this.connectedAt < outageStart.getTime()) {
      this.options.logger.debug('replacing the revocation listener connection that predates the outage');
      this.replace(client);
      return Promise.resolve();
    }
    return this.heartbeat();
  }

  /**
   * The cache is trusted exactly while round trips succeed, and only after it has caught up. A round trip that
   * does not come back on a live connection untrusts it (and says so once) without reconnecting: behind a pooler
   * that swallows notifications reconnecting would not help. A round trip that could not even be sent (the
   * database is unreachable) untrusts it silently: the outage detector reports the outage.
   */
  private async heartbeat(): Promise<void> {
    const client = this.client;
    if (!client) return;
    try {
      await this.verify();
    } catch (error) {
      if (this.client !== client) return;
      const undelivered = !isDatabaseUnavailable(error);
      if (undelivered && (this.options.cache.isTrusted || !this.warnedUndelivered)) {
        this.options.logger.warn(
          { err: error },
          'API key revocations are not delivered over LISTEN/NOTIFY (a transaction-mode pooler?); key lookups are not cached',
        );
        this.warnedUndelivered = true;
      }
      this.options.cache.setTrusted(false);
      return;
    }
    if (this.client !== client || this.options.cache.isTrusted) return;
    try {
      await this.options.catchUp();
    } catch (error) {
      if (!isDatabaseUnavailable(error)) {
        this.options.logger.warn(
          { err: error },
          'could not re-read the cached API keys after reconnecting; key lookups are not cached until the next heartbeat',
        );
      }
      return;
    }
    if (this.client === client) this.options.cache.setTrusted(true);
  }

  /** Sends a NOTIFY through the pool and waits for it to arrive on the listening connection. */
  private async verify(): Promise<void> {
    const nonce = randomBytes(8).toString('hex');
    let timer: NodeJS.Timeout | undefined;
    const arrived = new Promise<void>((resolve, reject) => {
      this.waiting.set(nonce, resolve);
      timer = setTimeout(
        () => reject(new Error(`no NOTIFY round trip within ${this.options.verifyTimeoutMs} ms`)),
        this.options.verifyTimeoutMs,
      );
    });
    try {
      await this.options.db.raw('SELECT pg_notify(?, ?)', [REVOCATION_CHANNEL, `${PING}${nonce}`]);
      await arrived;
    } finally {
      clearTimeout(timer);
      this.waiting.delete(nonce);
    }
  }

  private onNotification(message: Notification): void {
    if (message.channel !== REVOCATION_CHANNEL) return;
    const payload = message.payload ?? '';
    if (payload.startsWith(PING)) {
      this.waiting.get(payload.slice(PING.length))?.();
    } else if (payload === REVOKE_ALL) {
      this.options.cache.clear();
    } else {
      this.options.cache.delete(payload);
    }
  }
}

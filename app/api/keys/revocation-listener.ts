import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { Client, type Notification } from 'pg';
import type { Logger } from '../../../core/logger';
import type { CredentialCache } from './credential-cache';
import { REVOCATION_CHANNEL } from './key-store';

export interface RevocationListenerOptions {
  url: string;
  db: Knex;
  cache: CredentialCache;
  logger: Logger;
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
 * The cache is enabled only after a NOTIFY sent through the normal pool has come back on this connection, so a
 * pooler that swallows notifications (PgBouncer in transaction mode) leaves caching off instead of serving
 * revoked keys. Losing the connection turns caching off until a reconnect has been verified again.
 */
export class RevocationListener {
  private client: Client | undefined;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly waiting = new Map<string, () => void>();

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
    this.options.cache.setEnabled(false);
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new Client({
      connectionString: this.options.url,
      application_name: 'modelgate-key-revocation',
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
      await this.verify();
      this.options.cache.setEnabled(true);
      this.options.logger.debug('listening for API key revocations');
    } catch (error) {
      this.options.logger.warn(
        { err: error },
        'API key revocation listener is not connected; keys are checked against the database on every request',
      );
      this.lost(client, error);
    }
  }

  private lost(client: Client, error?: unknown): void {
    if (this.client === client) this.client = undefined;
    this.options.cache.setEnabled(false);
    client.removeAllListeners('notification');
    client.end().catch(() => undefined);
    if (error && this.client === undefined && !this.closed && !this.reconnectTimer) {
      this.options.logger.warn({ err: error }, 'API key revocation listener lost; reconnecting');
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

  private async heartbeat(): Promise<void> {
    const client = this.client;
    if (!client) return;
    try {
      await this.verify();
    } catch (error) {
      this.lost(client, error);
    }
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

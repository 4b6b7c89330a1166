import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { migrationsDirectory } from '../../../core/db/migrations';
import { tempDir } from '../temp.mjs';

/** A migrations folder holding the real migrations plus the test-only sleeping one (for --migrations-dir). */
export function slowMigrationsDir(): string {
  const dir = tempDir('migrations');
  for (const file of fs.readdirSync(migrationsDirectory()))
    fs.copyFileSync(path.join(migrationsDirectory(), file), path.join(dir, file));
  const fixture = path.join(__dirname, '..', '..', 'fixtures', 'slow-migration');
  for (const file of fs.readdirSync(fixture)) fs.copyFileSync(path.join(fixture, file), path.join(dir, file));
  return dir;
}

/** A TCP proxy on `port` to the real PostgreSQL: the database "appears" when it starts. */
export async function startProxy(port: number, target: { host: string; port: number }) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The same URL with another host:port (credentials and database kept). */
export function viaPort(url: string, port: number): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  parsed.port = String(port);
  return parsed.toString();
}

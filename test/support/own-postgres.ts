import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { freePort } from './ports.mjs';
import { tempDir } from './temp.mjs';

/**
 * A PostgreSQL of one test file's own, for tests that stop the database (the run's shared one serves every other
 * file in parallel). Run by pg-supervisor.mjs, so it dies with the test process even on SIGKILL; `stop` and
 * `start` stop and start the same cluster (data directory and port).
 */
export interface OwnPostgres {
  /** Admin URL (database `postgres`). */
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its data directory. */
  destroy(): Promise<void>;
}

const supervisorScript = path.join(__dirname, 'pg-supervisor.mjs');

function supervise(dir: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [supervisorScript, String(process.pid), dir, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).once('line', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`the PostgreSQL supervisor exited with ${code}`)));
  });
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const dir = tempDir('own-pg');
  const port = await freePort();
  let supervisor: ChildProcess | undefined = await supervise(dir, port);
  const stop = async () => {
    const child = supervisor;
    supervisor = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    stop,
    async start() {
      if (supervisor) throw new Error('the test PostgreSQL is already running');
      supervisor = await supervise(dir, port);
    },
    async destroy() {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

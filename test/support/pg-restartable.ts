import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

export interface RestartablePostgres {
  url: string;
  /** Stops postgres (a clean shutdown) and resolves once its process has exited. */
  stop(): Promise<void>;
}

/** Starts PostgreSQL on `dir` and `port` (initialised on first use); start it again on them after stop(). */
export function startRestartablePostgres(dir: string, port: number): Promise<RestartablePostgres> {
  const child = spawn(
    process.execPath,
    [path.join(__dirname, 'pg-restartable.mjs'), String(process.pid), dir, String(port)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).once('line', (line) => {
      const { url } = JSON.parse(line) as { url: string };
      resolve({
        url,
        async stop() {
          if (child.exitCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
    });
    void exited.then(() => reject(new Error('PostgreSQL did not start (see the output above)')));
  });
}

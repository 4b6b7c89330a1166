import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

export const appBinary = path.join(__dirname, '..', '..', '..', 'dist', 'bin', 'modelgate-app.js');

export interface LogRecord {
  level: string;
  msg: string;
  time: string;
  [field: string]: unknown;
}

/** modelgate-app built the production way (`npm run build`), as a child process with only the given env. */
export interface AppProcess {
  child: ChildProcess;
  url: string;
  /** Every stdout line (JSON) and stderr chunk, in order. */
  lines: string[];
  /** The JSON log records so far. */
  records(): LogRecord[];
  stop(): Promise<void>;
}

export async function startAppProcess(env: Record<string, string>): Promise<AppProcess> {
  if (!fs.existsSync(appBinary))
    throw new Error(`${appBinary} is missing: run \`npm run build\` first (npm test does)`);
  const child = spawn(process.execPath, [appBinary], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', SHUTDOWN_DELAY: '0s', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  child.stderr!.on('data', (chunk) => lines.push(String(chunk)));
  const port = await new Promise<number>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      try {
        const record = JSON.parse(line) as { msg?: string; port?: number };
        if (record.msg === 'modelgate-app listening') resolve(record.port!);
      } catch {
        // not JSON: kept in lines
      }
    });
    child.once('exit', (code) =>
      reject(new Error(`modelgate-app exited with ${code}:\n${lines.join('\n')}`)),
    );
  });
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    lines,
    records: () =>
      lines.flatMap((line) => {
        try {
          return [JSON.parse(line) as LogRecord];
        } catch {
          return [];
        }
      }),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

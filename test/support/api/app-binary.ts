import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

export const APP_BINARY = path.join(__dirname, '..', '..', '..', 'dist', 'bin', 'modelgate-app.js');

export interface AppProcess {
  child: ChildProcess;
  url: string;
  /** Everything it printed, stdout and stderr. */
  lines: string[];
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

function requireBuild(): void {
  if (!fs.existsSync(APP_BINARY))
    throw new Error(`${APP_BINARY} is missing: run \`npm run build\` first (npm test does)`);
}

/** Runs the built modelgate-app with `env` (and PATH), on 127.0.0.1 and a free port; resolves once it listens. */
export async function startAppBinary(env: Record<string, string>): Promise<AppProcess> {
  requireBuild();
  const child = spawn(process.execPath, [APP_BINARY], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', SHUTDOWN_DELAY: '0s', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  child.stderr!.on('data', (chunk) => lines.push(String(chunk)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      try {
        const record = JSON.parse(line) as { msg?: string; port?: number };
        if (record.msg === 'modelgate-app listening') resolve(record.port!);
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => reject(new Error(`modelgate-app exited with ${code}:\n${lines.join('\n')}`)));
  });
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    lines,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs the built modelgate-app to its exit (for start-up failures); its exit code and stderr. */
export function runAppBinary(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  requireBuild();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [APP_BINARY], {
      env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
    child.once('exit', (code) => resolve({ code, stderr }));
  });
}

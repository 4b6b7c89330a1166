import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildArtifact, serializeArtifact, type ArtifactModel } from '../../../core/artifact/schema';
import { LOG_FLUSH_MS } from '../../../core/logger';
import { testModels } from '../api/catalog';
import { tempDir } from '../temp.mjs';

/** modelgate-app built the production way (`npm run build`). */
export const APP_BINARY = path.join(__dirname, '..', '..', '..', 'dist', 'bin', 'modelgate-app.js');

export interface LogRecord {
  level: string;
  msg: string;
  time: string;
  [field: string]: unknown;
}

/** One modelgate-app process (the built binary) on 127.0.0.1 and a port the kernel picked. */
export interface AppProcess {
  child: ChildProcess;
  url: string;
  /** Its output lines, stdout (JSON log records) and stderr, in order. */
  lines: string[];
  /** The JSON log records so far. */
  records(): LogRecord[];
  /**
   * Waits until the lines logged before the call have reached `lines`: the app writes a line at most LOG_FLUSH_MS
   * after it was logged (core/logger.ts), so an assertion on what was or was not logged waits four times that.
   */
  logsWritten(): Promise<void>;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** SIGTERM, then resolves once it has exited. */
  stop(): Promise<void>;
}

function requireBuild(): void {
  if (!fs.existsSync(APP_BINARY))
    throw new Error(`${APP_BINARY} is missing: run \`npm run build\` first (npm test does)`);
}

/** Only what the test gives (and PATH), so the developer's shell never leaks in. */
function appEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', ...env };
}

/** A models file for MODELS_FILE holding `models` (the test catalog by default). */
export function modelsFile(models: ArtifactModel[] = testModels): string {
  const file = path.join(tempDir('app-models'), 'models.json');
  const artifact = buildArtifact({
    models,
    source: { url: 'file:///test/models.json', etag: null, lastModified: null },
    fetchedAt: new Date().toISOString(),
  });
  fs.writeFileSync(file, serializeArtifact(artifact));
  return file;
}

/** Starts the binary with `env` (DATABASE_URL and MODELS_FILE at least) and resolves once it listens. */
export async function startAppBinary(env: Record<string, string>): Promise<AppProcess> {
  requireBuild();
  const child = spawn(process.execPath, [APP_BINARY], {
    env: appEnv({ SHUTDOWN_DELAY: '0s', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  readline.createInterface({ input: child.stderr! }).on('line', (line) => lines.push(line));
  const port = await new Promise<number>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      const record = parseRecord(line);
      if (record?.msg === 'modelgate-app listening') resolve(Number(record.port));
    });
    void exited.then((code) => reject(new Error(`modelgate-app exited with ${code}:\n${lines.join('\n')}`)));
  });
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    lines,
    records: () => lines.flatMap((line) => parseRecord(line) ?? []),
    logsWritten: () => sleep(4 * LOG_FLUSH_MS),
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs the binary to its exit (for start-up failures); its exit code and stderr. */
export function runAppBinary(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  requireBuild();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [APP_BINARY], {
      env: appEnv(env),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
    child.once('exit', (code) => resolve({ code, stderr }));
  });
}

function parseRecord(line: string): LogRecord | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as LogRecord;
  } catch {
    return undefined;
  }
}

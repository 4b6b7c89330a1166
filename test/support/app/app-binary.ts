import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { buildArtifact, serializeArtifact, type ArtifactModel } from '../../../core/artifact/schema';
import { testModels } from '../api/catalog';
import { tempDir } from '../temp.mjs';

const main = path.join(__dirname, '..', '..', '..', 'dist', 'bin', 'modelgate-app.js');

/** One modelgate-app process (the built binary) on 127.0.0.1 and a port the kernel picked. */
export interface AppBinary {
  child: ChildProcess;
  url: string;
  /** Its log lines (stdout and stderr) so far. */
  lines: string[];
  stop(): Promise<void>;
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
export async function startAppBinary(env: Record<string, string>): Promise<AppBinary> {
  if (!fs.existsSync(main))
    throw new Error(`${main} is missing: run \`npm run build\` first (npm test does)`);
  const child = spawn(process.execPath, [main], {
    env: {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      PORT: '0',
      SHUTDOWN_DELAY: '0s',
      SHUTDOWN_TIMEOUT: '5s',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  readline.createInterface({ input: child.stderr! }).on('line', (line) => lines.push(line));
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
    child.once('exit', (code) =>
      reject(new Error(`modelgate-app exited with ${code}:\n${lines.join('\n')}`)),
    );
  });
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    lines,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

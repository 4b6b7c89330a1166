import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../tools';

/**
 * The image's entry points are package.json's `bin` entries (modelgate-init, modelgate-app). Outside the image
 * they are `node <repo>/<bin path>`, run from the build output (`npm run build`).
 */
export function binaryCommand(name: string): string[] {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
  };
  const target = pkg.bin[name];
  if (!target) throw new Error(`${name} is not an entry point of the image (package.json bin)`);
  return [process.execPath, path.join(repoRoot, target)];
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runBinary(
  name: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<CliResult> {
  const [node, script] = binaryCommand(name);
  return new Promise((resolve) => {
    execFile(
      node!,
      [script!, ...args],
      { env: { PATH: process.env.PATH, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export const runInitCli = (args: readonly string[], env?: NodeJS.ProcessEnv) =>
  runBinary('modelgate-init', args, env);

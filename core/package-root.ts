import fs from 'node:fs';
import path from 'node:path';

let cached: string | undefined;

/** The folder holding modelgate's package.json, whether running from source (jest) or from dist/. */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate) && JSON.parse(fs.readFileSync(candidate, 'utf8')).name === 'modelgate') {
      cached = dir;
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find modelgate's package.json above ${__dirname}`);
    dir = parent;
  }
}

/** The version in package.json, reported by /status and the binaries' --version. */
export function packageVersion(): string {
  return JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')).version;
}

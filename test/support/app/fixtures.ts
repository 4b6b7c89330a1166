import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { serializeArtifact, type Artifact } from '../../../core/artifact/schema';
import { loadConfig, type Config } from '../../../core/config';

/** Writes like modelgate-init does: a temp file in the same directory, then rename. */
export function writeArtifactFile(file: string, artifact: Artifact | string): void {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(temp, typeof artifact === 'string' ? artifact : serializeArtifact(artifact));
  fs.renameSync(temp, file);
}

let generation = 0;

/**
 * Publishes files into `dir` the way the kubelet's atomic writer updates a ConfigMap volume: a fresh timestamped
 * directory, a `..data_tmp` symlink to it renamed over `..data`, user-visible names as symlinks through `..data`,
 * and the previous generation removed.
 */
export function kubeletPublish(dir: string, files: Record<string, string | Buffer>): void {
  fs.mkdirSync(dir, { recursive: true });
  const dataLink = path.join(dir, '..data');
  let previous: string | undefined;
  try {
    previous = fs.readlinkSync(dataLink);
  } catch {
    previous = undefined;
  }
  generation += 1;
  const stamp = `..${new Date().toISOString().replace(/[-:.TZ]/g, '_')}${process.pid}_${generation}`;
  fs.mkdirSync(path.join(dir, stamp));
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, stamp, name), content);
  const tmpLink = path.join(dir, '..data_tmp');
  fs.symlinkSync(stamp, tmpLink);
  fs.renameSync(tmpLink, dataLink);
  for (const name of Object.keys(files)) {
    const link = path.join(dir, name);
    if (!fs.existsSync(link)) fs.symlinkSync(path.join('..data', name), link);
  }
  for (const entry of fs.readdirSync(dir)) {
    if (entry.startsWith('..') || Object.hasOwn(files, entry)) continue;
    fs.rmSync(path.join(dir, entry), { force: true });
  }
  if (previous) fs.rmSync(path.join(dir, previous), { recursive: true, force: true });
}

export function gzipArtifact(artifact: Artifact): Buffer {
  return gzipSync(serializeArtifact(artifact));
}

export function appConfig(env: Record<string, string>): Readonly<Config> {
  return loadConfig({ HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent', SHUTDOWN_DELAY: '0', ...env });
}

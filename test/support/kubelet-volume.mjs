// @ts-check
// A ConfigMap volume as the kubelet updates it, for tests and benchmarks of hot reload.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Writes `files` into `dir` the way the kubelet's AtomicWriter does: a fresh timestamped directory, a `..data_tmp`
 * symlink to it renamed over `..data`, user-visible names as symlinks through `..data`, names no longer in `files`
 * removed, and the previous generation deleted.
 * @param {string} dir created when missing
 * @param {Readonly<Record<string, string | Uint8Array>>} files
 */
export function writeAtomically(dir, files) {
  fs.mkdirSync(dir, { recursive: true });
  const stamp = `..${new Date().toISOString().replace(/[:.]/g, '_')}.${randomBytes(4).toString('hex')}`;
  fs.mkdirSync(path.join(dir, stamp));
  for (const [key, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, stamp, key), content);
  const previous = fs.readdirSync(dir).filter((e) => e.startsWith('..') && e !== '..data' && e !== stamp);
  fs.symlinkSync(stamp, path.join(dir, '..data_tmp'));
  fs.renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  const visible = new Set(Object.keys(files));
  for (const entry of fs.readdirSync(dir)) {
    if (entry.startsWith('..')) continue;
    if (!visible.has(entry)) fs.rmSync(path.join(dir, entry), { force: true });
  }
  for (const key of visible) {
    try {
      fs.symlinkSync(path.join('..data', key), path.join(dir, key));
    } catch (error) {
      if (/** @type {NodeJS.ErrnoException} */ (error).code !== 'EEXIST') throw error;
    }
  }
  for (const old of previous) fs.rmSync(path.join(dir, old), { recursive: true, force: true });
}

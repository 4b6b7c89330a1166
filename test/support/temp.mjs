// @ts-check
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** @param {string} label @returns {string} a new empty directory `<tmp>/modelgate-<label>-XXXXXX` */
export function tempDir(label) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `modelgate-${label}-`));
}

import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

/** The largest artifact a reader inflates; a ConfigMap holds at most 1 MiB compressed. */
const MAX_INFLATED_BYTES = 64 * 1024 * 1024;

/** One place an artifact may be read from. */
export interface ArtifactLocation {
  /** The file path, shown in logs, /status and metrics. */
  path: string;
  gzip: boolean;
}

/** MODELS_FILE, then the ConfigMap mount's keys (`models.json`, or `models.json.gz` from binaryData). */
export function artifactLocations(modelsFile: string, configMapDir: string | undefined): ArtifactLocation[] {
  const locations: ArtifactLocation[] = [{ path: modelsFile, gzip: false }];
  if (configMapDir) {
    locations.push({ path: path.join(configMapDir, 'models.json'), gzip: false });
    locations.push({ path: path.join(configMapDir, 'models.json.gz'), gzip: true });
  }
  return locations;
}

export type ReadResult =
  | { kind: 'missing' }
  | { kind: 'error'; reason: string; fingerprint: string }
  | { kind: 'text'; text: string; fingerprint: string };

/**
 * Reads one location. Paths inside a ConfigMap mount are symlinks through `..data`, so reading the key path always
 * sees one complete generation of the volume. The fingerprint (sha256 of the raw bytes) lets the store skip
 * content it has already judged.
 */
export async function readLocation(location: ArtifactLocation): Promise<ReadResult> {
  let raw: Buffer;
  try {
    raw = await fs.readFile(location.path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
    return { kind: 'error', reason: `cannot read it (${code ?? (error as Error).message})`, fingerprint: '' };
  }
  const fingerprint = createHash('sha256').update(raw).digest('hex');
  if (!location.gzip) return { kind: 'text', text: raw.toString('utf8'), fingerprint };
  try {
    return {
      kind: 'text',
      text: gunzipSync(raw, { maxOutputLength: MAX_INFLATED_BYTES }).toString('utf8'),
      fingerprint,
    };
  } catch (error) {
    return { kind: 'error', reason: `not valid gzip: ${(error as Error).message}`, fingerprint };
  }
}

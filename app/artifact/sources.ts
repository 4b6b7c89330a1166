import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { CONFIGMAP_GZIP_KEY, CONFIGMAP_KEY, gunzipArtifact } from '../../core/artifact/configmap';

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
    locations.push({ path: path.join(configMapDir, CONFIGMAP_KEY), gzip: false });
    locations.push({ path: path.join(configMapDir, CONFIGMAP_GZIP_KEY), gzip: true });
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
  const inflated = gunzipArtifact(raw);
  return inflated.ok
    ? { kind: 'text', text: inflated.text, fingerprint }
    : { kind: 'error', reason: inflated.reason, fingerprint };
}

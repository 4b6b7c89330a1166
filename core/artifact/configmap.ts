import { gunzipSync } from 'node:zlib';

/**
 * How the artifact sits in the models ConfigMap, for init (which writes it through the API) and the app (which reads
 * the mounted volume): `models.json` in data, or gzip-compressed `models.json.gz` in binaryData when it is large.
 * A writer keeps only one of the two keys.
 */
export const CONFIGMAP_KEY = 'models.json';
export const CONFIGMAP_GZIP_KEY = 'models.json.gz';

/** The largest artifact a reader inflates: a ConfigMap holds at most 1 MiB compressed, text compresses below 1:64. */
export const MAX_INFLATED_BYTES = 64 * 1024 * 1024;

export type Inflated = { ok: true; text: string } | { ok: false; reason: string };

/** Inflates `models.json.gz`, bounded by MAX_INFLATED_BYTES (a gzip bomb is refused, not inflated). Never throws. */
export function gunzipArtifact(compressed: Uint8Array): Inflated {
  try {
    return {
      ok: true,
      text: gunzipSync(compressed, { maxOutputLength: MAX_INFLATED_BYTES }).toString('utf8'),
    };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      return { ok: false, reason: `inflates to more than ${MAX_INFLATED_BYTES} bytes; refused` };
    return { ok: false, reason: `not gzip: ${(error as Error).message}` };
  }
}

import fs from 'node:fs';
import path from 'node:path';
import {
  buildArtifact,
  parseArtifact,
  serializeArtifact,
  type Artifact,
} from '../../../core/artifact/schema';
import { parseMorpheus } from '../../../init/models/morpheus';

export const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'morpheus');

export function fixture(name: string): string {
  return fs.readFileSync(path.join(FIXTURES, name), 'utf8');
}

/** An artifact built from a fixture as init would have written it `ageMs` ago. */
export function artifactFrom(
  name: string,
  options: { url: string; ageMs: number; etag?: string | null },
): Artifact {
  const { models, warnings } = parseMorpheus(fixture(name));
  const at = new Date(Date.now() - options.ageMs).toISOString();
  return buildArtifact({
    models,
    warnings,
    source: { url: options.url, etag: options.etag ?? null, lastModified: null },
    fetchedAt: at,
  });
}

export function writeArtifact(file: string, artifact: Artifact): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, serializeArtifact(artifact));
}

/** Reads and validates an artifact file; fails the test when it is missing or invalid. */
export function readArtifact(file: string): Artifact {
  const parsed = parseArtifact(fs.readFileSync(file, 'utf8'));
  if (!parsed.ok) throw new Error(`${file}: ${parsed.reason}`);
  return parsed.artifact;
}

// Artifacts for tests, built and checked with the contract's own code (core/artifact/schema).
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildArtifact, parseArtifact, serializeArtifact, type Artifact } from '../../core/artifact/schema';
import { parseMorpheus } from '../../init/models/morpheus';
import { artifactModels } from './models.mjs';

/** The recorded model source documents (morpheus format). */
export const FIXTURES = path.join(__dirname, '..', 'fixtures', 'morpheus');

export function fixture(name: string): string {
  return fs.readFileSync(path.join(FIXTURES, name), 'utf8');
}

/** A valid artifact of `count` models `<prefix>-<n>`; `checkedAt` decides which of two artifacts is newer. */
export function makeArtifact(
  options: { count?: number; prefix?: string; checkedAt?: string; url?: string } = {},
): Artifact {
  const checkedAt = options.checkedAt ?? new Date().toISOString();
  return buildArtifact({
    models: artifactModels(options.count ?? 3, { prefix: options.prefix }),
    source: {
      url: options.url ?? 'https://models.example.test/active_models.json',
      etag: '"v1"',
      lastModified: null,
    },
    fetchedAt: checkedAt,
    checkedAt,
  });
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

/** Writes like modelgate-init does: a temp file in the same directory (created when missing), then rename. */
export function writeArtifactFile(file: string, artifact: Artifact | string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(temp, typeof artifact === 'string' ? artifact : serializeArtifact(artifact));
  fs.renameSync(temp, file);
}

/** Reads and validates an artifact file; fails the test when it is missing or invalid. */
export function readArtifact(file: string): Artifact {
  const parsed = parseArtifact(fs.readFileSync(file, 'utf8'));
  if (!parsed.ok) throw new Error(`${file}: ${parsed.reason}`);
  return parsed.artifact;
}

export function gzipArtifact(artifact: Artifact): Buffer {
  return gzipSync(serializeArtifact(artifact));
}

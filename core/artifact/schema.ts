import { createHash } from 'node:crypto';
import * as z from 'zod';
import { readSourceUrl } from './source-url';

/**
 * The model-artifact contract between modelgate-init (writer) and modelgate-app (reader).
 * Format version 1; a reader accepts only artifacts that validate against this schema and whose sha256 matches.
 */
export const ARTIFACT_FORMAT_VERSION = 1;

export const modelTypes = ['LLM', 'EMBEDDING', 'UNKNOWN'] as const;
export type ModelType = (typeof modelTypes)[number];

export const artifactModelSchema = z
  .object({
    /** The public model name clients send as `model`. Unique in an artifact. */
    id: z.string().min(1).max(512),
    /** The source's Id (e.g. 0x + 64 hex); several names may share one. */
    upstreamId: z.string().min(1).max(512),
    tags: z.array(z.string()).default([]),
    type: z.enum(modelTypes),
    /** Unix seconds. */
    createdAt: z.number().int().nonnegative(),
    owner: z.string().nullable(),
    /** Decimal string: stakes exceed 2^53 and are kept exact. */
    stake: z.string().regex(/^\d+$/).nullable().default(null),
    fee: z.string().regex(/^\d+$/).nullable().default(null),
  })
  .strict();
export type ArtifactModel = z.infer<typeof artifactModelSchema>;

export const artifactSourceSchema = z
  .object({
    /** Where the models came from, without any secret (source-url.ts); a reader drops one an older writer kept. */
    url: z.string().transform(readSourceUrl),
    etag: z.string().nullable(),
    lastModified: z.string().nullable(),
  })
  .strict();

export const artifactSchema = z
  .object({
    formatVersion: z.literal(ARTIFACT_FORMAT_VERSION),
    source: artifactSourceSchema,
    /** When the models payload was last downloaded (ISO 8601). */
    fetchedAt: z.iso.datetime({ offset: true }),
    /** When the source was last asked (a 304 moves only this). */
    checkedAt: z.iso.datetime({ offset: true }),
    /**
     * The last-known-good mark: the source failed and init fell back on this artifact. One of the two reasons an
     * artifact is stale (freshness.ts); the other is its age.
     */
    stale: z.boolean().default(false),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    models: z.array(artifactModelSchema).min(1),
    warnings: z.array(z.string()).default([]),
  })
  .strict()
  .superRefine((artifact, ctx) => {
    const seen = new Set<string>();
    for (const model of artifact.models) {
      if (seen.has(model.id))
        ctx.addIssue({ code: 'custom', message: `duplicate model id ${JSON.stringify(model.id)}` });
      seen.add(model.id);
    }
    const expected = modelsSha256(artifact.models);
    if (expected !== artifact.sha256) {
      ctx.addIssue({
        code: 'custom',
        path: ['sha256'],
        message: `sha256 does not match the models (expected ${expected})`,
      });
    }
  });
export type Artifact = z.infer<typeof artifactSchema>;

/** The models in a fixed order with fixed key order, so equal catalogs hash equally wherever they were built. */
export function canonicalModels(models: readonly ArtifactModel[]): ArtifactModel[] {
  return [...models]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((m) => ({
      id: m.id,
      upstreamId: m.upstreamId,
      tags: [...m.tags],
      type: m.type,
      createdAt: m.createdAt,
      owner: m.owner,
      stake: m.stake,
      fee: m.fee,
    }));
}

export function modelsSha256(models: readonly ArtifactModel[]): string {
  return createHash('sha256')
    .update(JSON.stringify(canonicalModels(models)))
    .digest('hex');
}

export type ParseResult = { ok: true; artifact: Artifact } | { ok: false; reason: string };

/** Parses and validates artifact JSON text. Never throws. */
export function parseArtifact(text: string): ParseResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `not JSON: ${(error as Error).message}` };
  }
  const result = artifactSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'artifact';
    return {
      ok: false,
      reason: `invalid artifact: ${where}: ${issue?.message ?? 'does not match the schema'}`,
    };
  }
  return { ok: true, artifact: result.data };
}

/** Builds a complete, valid artifact from normalized models. */
export function buildArtifact(input: {
  models: readonly ArtifactModel[];
  source: z.infer<typeof artifactSourceSchema>;
  fetchedAt: string;
  checkedAt?: string;
  stale?: boolean;
  warnings?: readonly string[];
}): Artifact {
  const models = canonicalModels(input.models);
  return {
    formatVersion: ARTIFACT_FORMAT_VERSION,
    source: { ...input.source, url: readSourceUrl(input.source.url) },
    fetchedAt: input.fetchedAt,
    checkedAt: input.checkedAt ?? input.fetchedAt,
    stale: input.stale ?? false,
    sha256: modelsSha256(models),
    models,
    warnings: [...(input.warnings ?? [])],
  };
}

/** Serialized form written to files and ConfigMaps. */
export function serializeArtifact(artifact: Artifact): string {
  return `${JSON.stringify(artifact)}\n`;
}

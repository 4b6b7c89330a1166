import * as z from 'zod';
import {
  modelTypes,
  modelsSha256,
  parseArtifact,
  type Artifact,
  type ArtifactModel,
  type ParseResult,
} from './schema';
import { readSourceUrl } from './source-url';

/**
 * The app reads the artifact on every start and reload, and every init container reads the cache; checking 5,000
 * models with zod costs around 100 ms of a start-up budget measured in tens of milliseconds. This checks the same
 * rules by hand, as strictly as the zod schema in schema.ts or more so: whatever it does not accept outright goes
 * to `parseArtifact`, whose verdict (and error message) stands. A property test holds the two to the same results.
 */
export function parseArtifactFast(text: string): ParseResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return parseArtifact(text);
  }
  const artifact = acceptArtifact(json);
  return artifact ? { ok: true, artifact } : parseArtifact(text);
}

const isoDateTime = z.iso.datetime({ offset: true });
const ARTIFACT_KEYS = new Set([
  'formatVersion',
  'source',
  'fetchedAt',
  'checkedAt',
  'stale',
  'sha256',
  'models',
  'warnings',
]);
const SOURCE_KEYS = new Set(['url', 'etag', 'lastModified']);
const MODEL_KEYS = new Set(['id', 'upstreamId', 'tags', 'type', 'createdAt', 'owner', 'stake', 'fee']);
const TYPES = new Set<string>(modelTypes);
const SHA256 = /^[0-9a-f]{64}$/;
const DIGITS = /^\d+$/;

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function onlyKeys(value: Json, allowed: ReadonlySet<string>): boolean {
  for (const key in value) if (!allowed.has(key)) return false;
  return true;
}

const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

const nullableString = (value: unknown): value is string | null =>
  value === null || typeof value === 'string';

const name = (value: unknown): value is string =>
  typeof value === 'string' && value.length >= 1 && value.length <= 512;

/** A decimal string, null, or absent (then null). Undefined means "not accepted here". */
function amount(value: unknown): string | null | undefined {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' && DIGITS.test(value) ? value : undefined;
}

function acceptModel(value: unknown): ArtifactModel | undefined {
  if (!isObject(value) || !onlyKeys(value, MODEL_KEYS)) return undefined;
  const { id, upstreamId, tags, type, createdAt, owner } = value;
  if (!name(id) || !name(upstreamId)) return undefined;
  if (tags !== undefined && !isStringArray(tags)) return undefined;
  if (typeof type !== 'string' || !TYPES.has(type)) return undefined;
  if (typeof createdAt !== 'number' || !Number.isSafeInteger(createdAt) || createdAt < 0) return undefined;
  if (!nullableString(owner)) return undefined;
  const stake = amount(value.stake);
  const fee = amount(value.fee);
  if (stake === undefined || fee === undefined) return undefined;
  return {
    id,
    upstreamId,
    tags: tags ? [...tags] : [],
    type: type as ArtifactModel['type'],
    createdAt,
    owner,
    stake,
    fee,
  };
}

/** The fast check alone: the artifact when it is certainly valid, else undefined (exported for the property test). */
export function acceptArtifact(json: unknown): Artifact | undefined {
  if (!isObject(json) || !onlyKeys(json, ARTIFACT_KEYS) || json.formatVersion !== 1) return undefined;
  const { source, fetchedAt, checkedAt, stale, sha256, models, warnings } = json;
  if (!isObject(source) || !onlyKeys(source, SOURCE_KEYS)) return undefined;
  if (typeof source.url !== 'string' || !nullableString(source.etag) || !nullableString(source.lastModified))
    return undefined;
  if (typeof fetchedAt !== 'string' || !isoDateTime.safeParse(fetchedAt).success) return undefined;
  if (typeof checkedAt !== 'string' || !isoDateTime.safeParse(checkedAt).success) return undefined;
  if (stale !== undefined && typeof stale !== 'boolean') return undefined;
  if (typeof sha256 !== 'string' || !SHA256.test(sha256)) return undefined;
  if (warnings !== undefined && !isStringArray(warnings)) return undefined;
  if (!Array.isArray(models) || models.length === 0) return undefined;
  const accepted: ArtifactModel[] = [];
  const ids = new Set<string>();
  for (const raw of models) {
    const model = acceptModel(raw);
    if (!model || ids.has(model.id)) return undefined;
    ids.add(model.id);
    accepted.push(model);
  }
  if (modelsSha256(accepted) !== sha256) return undefined;
  return {
    formatVersion: 1,
    source: { url: readSourceUrl(source.url), etag: source.etag, lastModified: source.lastModified },
    fetchedAt,
    checkedAt,
    stale: stale ?? false,
    sha256,
    models: accepted,
    warnings: warnings ? [...warnings] : [],
  };
}

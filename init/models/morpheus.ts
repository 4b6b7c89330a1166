import { modelTypes, type ArtifactModel, type ModelType } from '../../core/artifact/schema';
import { parseExactJson } from './exact-json';

/**
 * The `morpheus` source format (DESIGN section 3): `{"models":[{"Id","Name","Tags","CreatedAt","IsDeleted",
 * "ModelType","Fee","Stake","Owner","IpfsCID"}]}`. Real feeds are messy; normalize() says how each quirk is treated.
 */
export class SourceFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceFormatError';
  }
}

export interface NormalizedModels {
  models: ArtifactModel[];
  warnings: string[];
}

const MAX_WARNINGS = 50;
const MAX_NAME = 512;

type Raw = Record<string, unknown>;

function isObject(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Decimal digits of a non-negative integer given as a number or a digit string; null otherwise. */
function exactInteger(value: unknown): string | null {
  if (typeof value === 'string' && /^\d+$/.test(value.trim())) return BigInt(value.trim()).toString();
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return BigInt(value).toString();
  return null;
}

function modelType(value: unknown): ModelType {
  if (value === undefined || value === null || value === '') return 'LLM';
  const upper = String(value).toUpperCase();
  return (modelTypes as readonly string[]).includes(upper) ? (upper as ModelType) : 'UNKNOWN';
}

function text(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
}

/** Parses the source document text; throws SourceFormatError when it is not JSON or not the expected shape. */
export function parseMorpheus(body: string): NormalizedModels {
  let document: unknown;
  try {
    document = parseExactJson(body);
  } catch (error) {
    throw new SourceFormatError(`the model source did not return JSON (${(error as Error).message})`);
  }
  if (!isObject(document) || !Array.isArray(document.models)) {
    throw new SourceFormatError(
      'the model source returned JSON of the wrong shape: expected {"models":[...]} (MODEL_SOURCE_FORMAT=morpheus)',
    );
  }
  return normalize(document.models);
}

/**
 * Drops deleted entries, drops entries without Id or Name (warning), keeps the newest CreatedAt when a Name appears
 * twice (warning), keeps several Names of one Id as aliases. ModelType defaults to LLM (older feeds have none);
 * an unrecognised type becomes UNKNOWN. Stake and Fee are kept as exact decimal strings. An empty result is an error.
 */
export function normalize(entries: readonly unknown[]): NormalizedModels {
  const warnings: string[] = [];
  let suppressed = 0;
  const warn = (message: string) => {
    if (warnings.length < MAX_WARNINGS) warnings.push(message);
    else suppressed++;
  };
  const byName = new Map<string, ArtifactModel>();
  let deleted = 0;
  entries.forEach((entry, index) => {
    if (!isObject(entry)) {
      warn(`entry ${index} is not an object; dropped`);
      return;
    }
    if (entry.IsDeleted === true || entry.IsDeleted === 'true') {
      deleted++;
      return;
    }
    const id = text(entry.Id);
    const name = text(entry.Name);
    if (!id || !name) {
      warn(`entry ${index} has no ${id ? 'Name' : 'Id'}; dropped`);
      return;
    }
    if (name.length > MAX_NAME || id.length > MAX_NAME) {
      warn(`entry ${index} has a Name or Id longer than ${MAX_NAME} characters; dropped`);
      return;
    }
    const createdAt =
      typeof entry.CreatedAt === 'number' && entry.CreatedAt >= 0 ? Math.floor(entry.CreatedAt) : 0;
    const model: ArtifactModel = {
      id: name,
      upstreamId: id,
      tags: Array.isArray(entry.Tags) ? entry.Tags.filter((t): t is string => typeof t === 'string') : [],
      type: modelType(entry.ModelType),
      createdAt,
      owner: text(entry.Owner),
      stake: exactInteger(entry.Stake),
      fee: exactInteger(entry.Fee),
    };
    const previous = byName.get(name);
    if (previous) {
      const keep = model.createdAt > previous.createdAt ? model : previous;
      const drop = keep === model ? previous : model;
      warn(
        `duplicate Name ${JSON.stringify(name)}: kept Id ${keep.upstreamId} (CreatedAt ${keep.createdAt}), dropped Id ${drop.upstreamId} (CreatedAt ${drop.createdAt})`,
      );
      byName.set(name, keep);
      return;
    }
    byName.set(name, model);
  });
  if (suppressed > 0) warnings.push(`... and ${suppressed} more warnings`);
  const models = [...byName.values()];
  if (models.length === 0) {
    throw new SourceFormatError(
      `the model source lists no usable model (${entries.length} entries, ${deleted} deleted); refusing to publish an empty catalog`,
    );
  }
  return { models, warnings };
}

import fc from 'fast-check';

/**
 * fast-check arbitraries for the JSON Schemas of the published OpenAPI document: values the document calls valid.
 * Written here because no maintained package bridges JSON Schema and fast-check (json-schema-faker has its own
 * randomness, so no seeds to replay and no shrinking). It covers the keywords z.toJSONSchema emits for this API and
 * throws on any other, so a schema it cannot honour fails the test instead of being sampled wrongly.
 */
export type JsonSchema = Record<string, unknown>;

const KNOWN = new Set([
  '$ref',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'pattern',
  'allOf',
  'anyOf',
  'format',
  'enum',
  'const',
  'minimum',
  'maximum',
  'default',
  'description',
]);

/** Generated strings and arrays stay short: bodies far below BODY_LIMIT, requests quick. */
const MAX_GENERATED_LENGTH = 24;
const MAX_GENERATED_ITEMS = 3;

export function resolve(schema: JsonSchema, components: Record<string, JsonSchema>): JsonSchema {
  const ref = schema.$ref;
  if (typeof ref !== 'string') return schema;
  const name = ref.replace('#/components/schemas/', '');
  const target = components[name];
  if (!target) throw new Error(`unresolvable reference ${ref}`);
  return resolve(target, components);
}

function patternsOf(schema: JsonSchema): RegExp[] {
  const own = typeof schema.pattern === 'string' ? [schema.pattern] : [];
  const nested = ((schema.allOf as JsonSchema[] | undefined) ?? []).map((part) => {
    const keys = Object.keys(part);
    if (keys.length !== 1 || typeof part.pattern !== 'string')
      throw new Error(`allOf other than patterns: ${JSON.stringify(part)}`);
    return part.pattern;
  });
  return [...own, ...nested].map((p) => new RegExp(p, 'u'));
}

/**
 * Any Unicode scalar value (NUL and astral ones included, lone surrogates not). fast-check's own `unit: 'binary'`
 * takes seconds to build under jest.
 */
const anyCodePoint = fc
  .integer({ min: 0, max: 0x10ffff })
  .filter((c) => c < 0xd800 || c > 0xdfff)
  .map((c) => String.fromCodePoint(c));

function stringArbitrary(schema: JsonSchema): fc.Arbitrary<string> {
  if (schema.format === 'uuid') return fc.uuid();
  if (schema.format === 'date-time') return fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
  if (schema.format === 'date')
    return fc
      .date({ noInvalidDate: true, min: new Date('2000-01-01'), max: new Date('2099-12-31') })
      .map((d) => d.toISOString().slice(0, 10));
  if (schema.format !== undefined) throw new Error(`string format ${String(schema.format)}`);
  const minLength = Number(schema.minLength ?? 0);
  const maxLength = Math.min(Number(schema.maxLength ?? Infinity), Math.max(minLength, MAX_GENERATED_LENGTH));
  const patterns = patternsOf(schema);
  const length = { minLength, maxLength };
  // Printable ASCII mostly, any code point (NUL, astral) sometimes, and strings built from each pattern (which
  // plain strings may seldom meet, such as `\S`); then only those that meet every constraint.
  const sources = [
    { weight: 3, arbitrary: fc.string(length) },
    { weight: 1, arbitrary: fc.string({ ...length, unit: anyCodePoint }) },
    ...patterns.map((p) => ({ weight: 2, arbitrary: fc.stringMatching(p, { size: 'small' }) })),
  ];
  return fc
    .oneof(...sources)
    .filter(
      (s) => [...s].length >= minLength && [...s].length <= maxLength && patterns.every((p) => p.test(s)),
    );
}

function objectArbitrary(
  schema: JsonSchema,
  components: Record<string, JsonSchema>,
): fc.Arbitrary<Record<string, unknown>> {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = (schema.required ?? []) as string[];
  const known = fc.record(
    Object.fromEntries(
      Object.entries(properties).map(([name, property]) => [name, arbitraryFor(property, components)]),
    ),
    { requiredKeys: required },
  );
  if (schema.additionalProperties === false) return known;
  // An open object (the chat completion body passes the upstream's fields through): a few fields of its own.
  const extraName = fc.string({ minLength: 1, maxLength: 12 }).filter((n) => !(n in properties));
  const extras = fc.dictionary(extraName, fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 });
  return fc.tuple(known, extras).map(([own, extra]) => ({ ...extra, ...own }));
}

/** Values valid for `schema` (resolved against `components`). */
export function arbitraryFor(
  schema: JsonSchema,
  components: Record<string, JsonSchema>,
): fc.Arbitrary<unknown> {
  if (schema.$ref) return arbitraryFor(resolve(schema, components), components);
  // `{}` accepts anything (an array of unknown items, as a pass-through field is).
  if (Object.keys(schema).length === 0) return fc.jsonValue({ maxDepth: 1 });
  const unknown = Object.keys(schema).filter((k) => !KNOWN.has(k));
  if (unknown.length > 0) throw new Error(`no generator for keyword(s) ${unknown.join(', ')}`);
  if ('const' in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  if (Array.isArray(schema.anyOf))
    return fc.oneof(...(schema.anyOf as JsonSchema[]).map((s) => arbitraryFor(s, components)));
  if (Array.isArray(schema.type))
    return fc.oneof(
      ...(schema.type as string[]).map((type) => arbitraryFor({ ...schema, type }, components)),
    );
  switch (schema.type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer': {
      const min = Number(schema.minimum ?? Number.MIN_SAFE_INTEGER);
      const max = Number(schema.maximum ?? Number.MAX_SAFE_INTEGER);
      // The bounds themselves, often: that is where the fuzzer found the document and the server apart.
      return fc.oneof(fc.constantFrom(min, max), fc.integer({ min, max }));
    }
    case 'string':
      return stringArbitrary(schema);
    case 'array': {
      const minLength = Number(schema.minItems ?? 0);
      const maxLength = Math.min(
        Number(schema.maxItems ?? Infinity),
        Math.max(minLength, MAX_GENERATED_ITEMS),
      );
      return fc.array(arbitraryFor((schema.items ?? {}) as JsonSchema, components), { minLength, maxLength });
    }
    case 'object':
      return objectArbitrary(schema, components);
    default:
      throw new Error(`no generator for ${JSON.stringify(schema).slice(0, 200)}`);
  }
}

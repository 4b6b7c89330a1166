import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isPair, isScalar, parseDocument, type Pair, type YAMLMap } from 'yaml';

const chart = path.join(__dirname, '..', '..', '..', 'helm', 'modelgate');

/** Paths of every key in values.yaml, with whether a comment stands right before it. */
function keys(
  map: YAMLMap,
  prefix = '',
  inFlow = false,
): { path: string; documented: boolean; block: boolean }[] {
  const out: { path: string; documented: boolean; block: boolean }[] = [];
  for (const item of map.items) {
    if (!isPair(item)) continue;
    const pair = item as Pair;
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    const keyPath = prefix ? `${prefix}.${key}` : key;
    // The yaml parser hangs the comment before a map's first key on the map itself.
    const comment =
      (isScalar(pair.key) ? pair.key.commentBefore : undefined) ??
      (item === map.items[0] ? map.commentBefore : undefined);
    const block = isMap(pair.value) && !pair.value.flow && pair.value.items.length > 0;
    // Keys inside a flow map ({ cpu: 50m }) are documented by the comment before the map's own key.
    out.push({ path: keyPath, documented: inFlow || Boolean(comment?.trim()), block });
    if (isMap(pair.value)) out.push(...keys(pair.value as YAMLMap, keyPath, inFlow || !block));
  }
  return out;
}

type Schema = { type?: string; properties?: Record<string, Schema> };

/** Paths of every property the schema declares. */
function schemaPaths(schema: Schema, prefix = ''): string[] {
  return Object.entries(schema.properties ?? {}).flatMap(([key, sub]) => {
    const p = prefix ? `${prefix}.${key}` : key;
    return [p, ...(sub.properties ? schemaPaths(sub, p) : [])];
  });
}

/** Values that are Kubernetes objects passed through as they are (resources, securityContext...). */
function passThrough(schema: Schema, prefix = ''): string[] {
  return Object.entries(schema.properties ?? {}).flatMap(([key, sub]) => {
    const p = prefix ? `${prefix}.${key}` : key;
    if (sub.properties) return passThrough(sub, p);
    return sub.type === 'object' ? [p] : [];
  });
}

describe('helm/modelgate/values.yaml', () => {
  const doc = parseDocument(readFileSync(path.join(chart, 'values.yaml'), 'utf8'));
  const schema = JSON.parse(readFileSync(path.join(chart, 'values.schema.json'), 'utf8')) as Schema;
  const opaque = passThrough(schema);
  const all = keys(doc.contents as YAMLMap).filter((k) => !opaque.some((o) => k.path.startsWith(`${o}.`)));

  it('documents every value beside it (a comment right before each key that holds a value)', () => {
    expect(all.length).toBeGreaterThan(80);
    expect(all.filter((k) => !k.block && !k.documented).map((k) => k.path)).toEqual([]);
  });

  it('declares every value in values.schema.json, and the schema nothing values.yaml lacks', () => {
    const values = new Set(all.map((k) => k.path));
    const declared = new Set(schemaPaths(schema).filter((p) => p !== 'global'));
    expect([...values].filter((p) => !declared.has(p))).toEqual([]);
    expect([...declared].filter((p) => !values.has(p))).toEqual([]);
  });
});

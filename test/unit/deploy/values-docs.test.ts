import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isPair, isScalar, parseDocument, type Pair, type YAMLMap } from 'yaml';
import {
  describedBy,
  parameters,
  PARAMETERS_END,
  PARAMETERS_START,
  renderParameters,
} from '../../../scripts/docs/chart-readme.mjs';

const chart = path.join(__dirname, '..', '..', '..', 'helm', 'modelgate');

/** Paths of every key in values.yaml, with whether a `# --` comment stands right before it. */
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
    out.push({ path: keyPath, documented: inFlow || describedBy(comment) !== undefined, block });
    if (isMap(pair.value)) out.push(...keys(pair.value as YAMLMap, keyPath, inFlow || !block));
  }
  return out;
}

type Schema = { type?: string; deprecated?: boolean; properties?: Record<string, Schema> };

/** Paths of every property the schema declares, but the old names it keeps only to reject them by name. */
function schemaPaths(schema: Schema, prefix = ''): string[] {
  return Object.entries(schema.properties ?? {}).flatMap(([key, sub]) => {
    if (sub.deprecated) return [];
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

  it('documents every value beside it (a `# --` comment right before each key that holds a value)', () => {
    expect(all.length).toBeGreaterThan(80);
    expect(all.filter((k) => !k.block && !k.documented).map((k) => k.path)).toEqual([]);
  });

  it('declares every value in values.schema.json, and the schema nothing values.yaml lacks', () => {
    const values = new Set(all.map((k) => k.path));
    const declared = new Set(schemaPaths(schema).filter((p) => p !== 'global'));
    expect([...values].filter((p) => !declared.has(p))).toEqual([]);
    expect([...declared].filter((p) => !values.has(p))).toEqual([]);
  });

  it('lists every documented value in the parameters table of helm/modelgate/README.md (regenerate with `npm run docs:chart`)', () => {
    const values = readFileSync(path.join(chart, 'values.yaml'), 'utf8');
    const readme = readFileSync(path.join(chart, 'README.md'), 'utf8');
    const start = readme.indexOf(PARAMETERS_START);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(readme.slice(start, readme.indexOf(PARAMETERS_END) + PARAMETERS_END.length)).toBe(
      renderParameters(values),
    );
    const listed = parameters(values).map((p) => p.key);
    const leaves = all.filter((k) => !k.block).map((k) => k.path);
    expect(leaves.filter((k) => !listed.some((l) => k === l || k.startsWith(`${l}.`)))).toEqual([]);
  });
});

describe('the parameters table generator', () => {
  it('reads a `# --` description with its continuation lines, after any section comment', () => {
    expect(describedBy(' Section heading\n -- First line\n second line.')).toBe('First line second line.');
    expect(describedBy(' a plain comment')).toBeUndefined();
  });

  it('lists documented keys with their type and default, and documents a map as one row', () => {
    const rows = parameters(
      [
        '# Section',
        'group:',
        '  # -- A name.',
        '  name: ""',
        '  # -- Resources, passed through.',
        '  resources: { cpu: 1 }',
        '  nested:',
        '    # -- A flag.',
        '    on: true',
        '# -- A | pipe and <release>.',
        'count: 2',
      ].join('\n'),
    );
    expect(rows).toEqual([
      { key: 'group.name', type: 'string', default: '""', description: 'A name.' },
      {
        key: 'group.resources',
        type: 'object',
        default: '{"cpu":1}',
        description: 'Resources, passed through.',
      },
      { key: 'group.nested.on', type: 'bool', default: 'true', description: 'A flag.' },
      { key: 'count', type: 'int', default: '2', description: 'A | pipe and <release>.' },
    ]);
    expect(renderParameters('# -- A | pipe and <release>.\ncount: 2')).toContain(
      '| `count` | int | `2` | A \\| pipe and &lt;release>. |',
    );
  });
});

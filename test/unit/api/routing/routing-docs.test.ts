import fs from 'node:fs';
import path from 'node:path';
import {
  renderRoutingTable,
  ROUTING_TABLE_END,
  ROUTING_TABLE_START,
} from '../../../../app/api/routing/routing-docs';
import { parseRoutingText } from '../../../../app/api/routing/routing-source';

const doc = fs.readFileSync(path.join(__dirname, '..', '..', '..', '..', 'docs', 'configuration.md'), 'utf8');

describe("docs/configuration.md's routing file table", () => {
  it('matches the schema of the routing file (regenerate with `npm run docs:config`)', () => {
    const start = doc.indexOf(ROUTING_TABLE_START);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(doc.slice(start, doc.indexOf(ROUTING_TABLE_END) + ROUTING_TABLE_END.length)).toBe(
      renderRoutingTable(),
    );
  });

  it('describes every key, durations as durations', () => {
    const rows = renderRoutingTable()
      .split('\n')
      .filter((line) => line.startsWith('| `'));
    expect(rows.filter((row) => row.endsWith('|  |'))).toEqual([]);
    expect(rows.find((row) => row.startsWith('| `upstreams.<name>.timeout`'))).toContain(
      '| duration | `1m` |',
    );
    expect(rows.map((row) => row.split('`')[1])).toEqual(
      expect.arrayContaining(['routes[].match.glob', 'routes[].targets[].rename', 'settings.deadline']),
    );
  });

  it('has an example the app accepts', () => {
    const example = /<!-- routing-file-example -->\s*```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(example).toContain('upstreams:');
    const parsed = parseRoutingText(example!, '/etc/modelgate/routing/routing.yaml', {
      PROVIDER_API_KEY: 'sk-provider',
    });
    expect(parsed.ok ? [] : parsed.problems).toEqual([]);
  });
});

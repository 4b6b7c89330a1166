import fs from 'node:fs';
import path from 'node:path';
import { renderConfigTable, TABLE_END, TABLE_START } from '../../core/config/table';
import { variables } from '../../core/config';

const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'configuration.md'), 'utf8');

describe('docs/configuration.md configuration table', () => {
  it('matches the schema (regenerate with `npm run docs:config`)', () => {
    const start = readme.indexOf(TABLE_START);
    const end = readme.indexOf(TABLE_END);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(readme.slice(start, end + TABLE_END.length)).toBe(renderConfigTable());
  });

  it('lists every variable exactly once', () => {
    const block = readme.slice(readme.indexOf(TABLE_START), readme.indexOf(TABLE_END));
    const listed = [...block.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual(Object.keys(variables).sort());
  });

  it('covers the variables the deployment contract promises', () => {
    for (const name of [
      'DATABASE_URL',
      'MIGRATION_DATABASE_URL',
      'DB_WAIT_TIMEOUT',
      'MIGRATION_LOCK_TIMEOUT',
      'MODEL_SOURCE_URL',
      'MODEL_SOURCE_FORMAT',
      'MODELS_FILE',
      'MODELS_CONFIGMAP',
      'MODELS_MAX_AGE',
      'MODELS_MAX_STALE',
      'UPSTREAM_URL',
      'PORT',
      'LOG_LEVEL',
      'SHUTDOWN_DELAY',
      'ADMIN_TOKEN',
    ]) {
      expect(Object.keys(variables)).toContain(name);
    }
  });
});

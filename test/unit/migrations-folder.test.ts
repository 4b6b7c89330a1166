import fs from 'node:fs';
import path from 'node:path';
import { REQUIRED_MIGRATION, migrationsDirectory } from '../../core/db/migrations';

const dir = migrationsDirectory();
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.js'))
  .sort();

describe('migrations folder', () => {
  it('REQUIRED_MIGRATION names the newest migration (run `npm run migration:new` to add one)', () => {
    expect(files.length).toBeGreaterThan(0);
    expect(REQUIRED_MIGRATION).toBe(files[files.length - 1]);
  });

  it.each(files)('%s is plain JavaScript named by timestamp, type-checked, with up and down', (file) => {
    expect(file).toMatch(/^\d{14}_[a-z0-9_]+\.js$/);
    const source = fs.readFileSync(path.join(dir, file), 'utf8');
    expect(source.startsWith('// @ts-check')).toBe(true);
    const migration = require(path.join(dir, file));
    expect(typeof migration.up).toBe('function');
    expect(typeof migration.down).toBe('function');
  });

  it('holds only migrations', () => {
    expect(fs.readdirSync(dir).filter((f) => !f.endsWith('.js'))).toEqual([]);
  });
});

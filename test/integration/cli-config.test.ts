import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
const bin = (name: 'app' | 'init') => path.join(root, 'dist', 'bin', `modelgate-${name}.js`);

describe('binaries (built dist/)', () => {
  it.each(['app', 'init'] as const)('modelgate-%s --help prints usage and exits 0', (name) => {
    const run = spawnSync(process.execPath, [bin(name), '--help'], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^Usage: modelgate-${name}`));
  });

  it('modelgate-app exits 2 naming DATABASE_URL when it is not a URL', () => {
    const run = spawnSync(process.execPath, [bin('app')], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, DATABASE_URL: 'not-a-url' },
    });
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([
      'modelgate: configuration error: DATABASE_URL is not a URL (value hidden); expected postgres://user:password@host:5432/database',
    ]);
  });

  it('modelgate-app exits 2 when DATABASE_URL is missing', () => {
    const run = spawnSync(process.execPath, [bin('app')], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('DATABASE_URL is required but not set');
  });
});

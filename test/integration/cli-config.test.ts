import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { variables, variablesOf, type Binary, type VariableName } from '../../core/config';

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

describe('each binary validates only its own variables (built dist/)', () => {
  const INVALID = 'not valid!';
  const invalidOthers = (binary: Binary): Record<string, string> =>
    Object.fromEntries(
      (Object.keys(variables) as VariableName[])
        .filter((name) => !variablesOf(binary).includes(name))
        .map((name) => [name, INVALID]),
    );
  const unreachableDb = 'postgres://nobody@127.0.0.1:1/none';

  it('modelgate-init runs with every app-only variable invalid, and refuses a bad variable of its own', () => {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      DATABASE_URL: unreachableDb,
      ...invalidOthers('init'),
    };
    expect(env.UPSTREAM_TIMEOUT).toBe(INVALID);
    const run = spawnSync(process.execPath, [bin('init'), 'status'], { encoding: 'utf8', env });
    expect({ status: run.status, stdout: run.stdout.startsWith('{') }).toEqual({ status: 0, stdout: true });
    const bad = spawnSync(process.execPath, [bin('init'), 'status'], {
      encoding: 'utf8',
      env: { ...env, MODELS_LOCK_TIMEOUT: INVALID },
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('MODELS_LOCK_TIMEOUT is not a duration');
  });

  it('modelgate-app starts and listens with every init-only variable invalid, and refuses a bad one of its own', async () => {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      DATABASE_URL: unreachableDb,
      ...invalidOthers('app'),
      HOST: '127.0.0.1',
      PORT: '0',
      SHUTDOWN_DELAY: '0s',
    };
    expect(env.MODEL_SOURCE_TIMEOUT).toBe(INVALID);
    const child = spawn(process.execPath, [bin('app')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        readline.createInterface({ input: child.stdout }).on('line', (line) => {
          const record = JSON.parse(line) as { msg?: string; port?: number };
          if (record.msg === 'modelgate-app listening') resolve(record.port!);
        });
        child.once('exit', (code) => reject(new Error(`modelgate-app exited ${code}: ${stderr}`)));
      });
      expect((await fetch(`http://127.0.0.1:${port}/livez`)).status).toBe(200);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    const bad = spawnSync(process.execPath, [bin('app')], {
      encoding: 'utf8',
      env: { ...env, UPSTREAM_TIMEOUT: INVALID },
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('UPSTREAM_TIMEOUT is not a duration');
  });
});

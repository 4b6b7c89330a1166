import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import knex from 'knex';
import { until } from '../support/wait';
import { alive } from '../support/watchdog.mjs';

describe('test PostgreSQL harness', () => {
  it('leaves no postgres behind when the test run is killed with SIGKILL', async () => {
    // Stand-in for a jest process: it starts the supervisor exactly as global-setup does, then dies hard.
    const fakeJest = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const supervisor = spawn(
      process.execPath,
      [path.join(__dirname, '..', 'support', 'pg-supervisor.mjs'), String(fakeJest.pid)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const line: string = await new Promise((resolve, reject) => {
      readline.createInterface({ input: supervisor.stdout! }).once('line', resolve);
      supervisor.once('exit', (code) => reject(new Error(`supervisor exited ${code}`)));
    });
    const { url, postmasterPid } = JSON.parse(line) as { url: string; postmasterPid: number };
    const db = knex({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
    try {
      expect((await db.raw('select 1 as one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await db.destroy();
    }
    expect(alive(postmasterPid)).toBe(true);

    fakeJest.kill('SIGKILL');
    expect(await until(() => !alive(postmasterPid), 20_000)).toBe(true);
    expect(await until(() => supervisor.exitCode !== null, 5_000)).toBe(true);
  });
});

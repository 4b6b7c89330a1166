// jest's own verdict survives a global teardown that waits for a supervisor: the exit code and --outputFile are
// jest's, in a run of test/fixtures/jest-teardown, which starts and stops a stand-in supervisor the way the e2e and
// k8s projects do (unref'd at setup, stopped by stopSupervisor at teardown).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../support/temp.mjs';

const repoRoot = path.resolve(__dirname, '..', '..');
const fixture = path.join(repoRoot, 'test', 'fixtures', 'jest-teardown');

async function runFixture(outcome: 'pass' | 'fail') {
  const dir = tempDir('jest-teardown');
  const outputFile = path.join(dir, 'results.json');
  const teardownFile = path.join(dir, 'teardown.json');
  const config = {
    rootDir: fixture,
    testMatch: ['<rootDir>/*.test.js'],
    transform: {},
    cacheDirectory: path.join(dir, 'cache'),
    globalSetup: '<rootDir>/global-setup.js',
    globalTeardown: '<rootDir>/global-teardown.js',
  };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    FIXTURE_OUTCOME: outcome,
    FIXTURE_TEARDOWN_FILE: teardownFile,
  };
  delete env.JEST_WORKER_ID;
  const exitCode = await new Promise<number | null>((resolve) => {
    const jest = execFile(
      process.execPath,
      [
        path.join(repoRoot, 'node_modules', 'jest', 'bin', 'jest.js'),
        '--config',
        JSON.stringify(config),
        '--json',
        `--outputFile=${outputFile}`,
      ],
      { cwd: dir, env },
    );
    jest.once('exit', resolve);
  });
  const read = (file: string) =>
    fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : undefined;
  const result = { exitCode, results: read(outputFile), teardown: read(teardownFile) };
  fs.rmSync(dir, { recursive: true, force: true });
  return result;
}

describe('a jest run whose global teardown stops a supervisor', () => {
  // Without stopSupervisor's ref(), node ends jest while the teardown waits: exit code 0, no file, no teardown end.
  it('ends with exit code 1 and writes --outputFile after a failed test, once the teardown is done', async () => {
    expect(await runFixture('fail')).toMatchObject({
      exitCode: 1,
      results: { success: false, numFailedTests: 1, numTotalTests: 1 },
      teardown: { supervisorExit: 0 },
    });
  });

  it('ends with exit code 0 and success in --outputFile when every test passed', async () => {
    expect(await runFixture('pass')).toMatchObject({
      exitCode: 0,
      results: { success: true, numFailedTests: 0, numPassedTests: 1 },
      teardown: { supervisorExit: 0 },
    });
  });
});

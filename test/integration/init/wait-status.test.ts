import fs from 'node:fs';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { serializeArtifact } from '../../../core/artifact/schema';
import { REQUIRED_MIGRATION } from '../../../core/db/migrations';
import { COMMANDS } from '../../../init/cli';
import { CONFIGMAP_KEY } from '../../../core/artifact/configmap';
import { runInit, startInit, summaryOf } from '../../support/init/spawn-init';
import { tempDir } from '../../support/temp.mjs';
import { startConfigMapServer, type ConfigMapServer } from '../../support/init/configmap-server';
import { artifactFrom, readArtifact, writeArtifactFile } from '../../support/artifacts';

jest.setTimeout(120_000);

const NS = 'modelgate';
const NAME = 'modelgate-models';

describe('modelgate-init wait and status (real PostgreSQL, real processes)', () => {
  let testDb: TestDatabase;
  let kube: ConfigMapServer;
  let dir: string;
  let file: string;

  beforeEach(async () => {
    testDb = await createTestDatabase('init_wait');
    kube = await startConfigMapServer();
    kube.put(NS, NAME);
    dir = tempDir('wait');
    file = path.join(dir, 'models.json');
  });
  afterEach(async () => {
    await kube.close();
    await testDb.drop();
  });

  const env = () => ({
    DATABASE_URL: testDb.url,
    MODELS_FILE: file,
    MODELS_CONFIGMAP: `${NS}/${NAME}`,
    KUBECONFIG: kube.kubeconfig(dir),
  });

  it('wait: SIGTERM ends it at once with 143 (as PID 1 an unhandled signal would be ignored)', async () => {
    const waiting = startInit(['wait'], { ...env(), WAIT_TIMEOUT: '45s' });
    await waiting.waitForLine((l) => l.msg === 'waiting for the schema and the artifact');
    waiting.child.kill('SIGTERM');
    const result = await waiting.done;
    expect(result.code).toBe(143);
    expect(result.lines).toContainEqual(
      expect.objectContaining({ msg: 'modelgate-init wait stopped by SIGTERM' }),
    );
    expect(fs.existsSync(file)).toBe(false);
  });

  it('wait: blocks until the schema has the newest migration and the ConfigMap a valid artifact, then writes the file', async () => {
    const waiting = startInit(['wait'], { ...env(), WAIT_TIMEOUT: '45s' });
    const line = await waiting.waitForLine((l) => l.msg === 'waiting for the schema and the artifact');
    expect(line.waitingFor).toEqual([
      expect.stringMatching(/^schema: the database has no migrations applied/),
      `artifact: ConfigMap ${NS}/${NAME} holds no artifact yet`,
    ]);
    await testDb.migrateLatest();
    const published = artifactFrom('minimal.json', {
      url: 'https://models.example',
      ageMs: 3 * 24 * 3600_000,
    });
    kube.put(NS, NAME, { [CONFIGMAP_KEY]: serializeArtifact(published) });
    const result = await waiting.done;
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(readArtifact(file)).toEqual(published);
    expect(summaryOf(result)).toMatchObject({
      command: 'wait',
      exitCode: 0,
      artifact: { origin: 'reused', models: 2, sha256: published.sha256 },
    });
  });

  it('wait: exits 1 after WAIT_TIMEOUT naming what is still missing; an invalid artifact does not count', async () => {
    await testDb.migrateLatest();
    kube.put(NS, NAME, { [CONFIGMAP_KEY]: '{"formatVersion":1}' });
    const result = await runInit(['wait'], { ...env(), WAIT_TIMEOUT: '2s' });
    expect(result.code).toBe(1);
    expect(summaryOf(result).error).toMatch(
      /gave up after WAIT_TIMEOUT \(2000 ms\) waiting for: artifact: ConfigMap modelgate\/modelgate-models invalid artifact/,
    );
    expect(fs.existsSync(file)).toBe(false);
  });

  it('status prints the schema state and each sink as JSON on stdout, and writes nothing', async () => {
    await testDb.migrateLatest();
    const stale = artifactFrom('minimal.json', { url: 'https://models.example', ageMs: 2 * 3600_000 });
    writeArtifactFile(file, stale);
    const result = await runInit(['status'], env());
    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout);
    expect(status.schema).toEqual({
      compatible: true,
      required: REQUIRED_MIGRATION,
      latestApplied: REQUIRED_MIGRATION,
      ahead: false,
    });
    expect(status.sinks).toEqual([
      { sink: `ConfigMap ${NS}/${NAME}`, kind: 'configmap', state: 'missing' },
      expect.objectContaining({
        sink: `file ${file}`,
        kind: 'file',
        state: 'stale',
        models: 2,
        sha256: stale.sha256,
        checkedAt: stale.checkedAt,
      }),
    ]);
    expect(fs.existsSync(path.join(dir, 'init-report.json'))).toBe(false);
    // its log lines, the summary last, go to stderr
    const summary = JSON.parse(result.stderr.trim().split('\n').pop()!);
    expect(summary).toMatchObject({
      msg: 'modelgate-init status done',
      summary: { command: 'status', exitCode: 0 },
    });
  });

  it('status reports an unreachable database instead of failing', async () => {
    const result = await runInit(['status'], { ...env(), DATABASE_URL: 'postgres://u:p@127.0.0.1:1/none' });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).schema).toMatchObject({
      compatible: false,
      error: expect.stringMatching(/ECONNREFUSED/),
    });
  });

  it('status reports a ConfigMap it cannot reach as a sink in error, by name, and still reports the file', async () => {
    await testDb.migrateLatest();
    const result = await runInit(['status'], { ...env(), KUBECONFIG: path.join(dir, 'no-such-kubeconfig') });
    expect(result.code).toBe(0);
    const { sinks } = JSON.parse(result.stdout);
    expect(sinks).toEqual([
      {
        sink: `ConfigMap ${NS}/${NAME}`,
        kind: 'configmap',
        state: 'error',
        reason: expect.stringMatching(/cannot load the Kubernetes client configuration.*set KUBECONFIG/),
      },
      expect.objectContaining({ kind: 'file' }),
    ]);
  });

  it.each(COMMANDS)(
    'modelgate-init %s --help prints its usage and the exit codes (built binary)',
    async (command) => {
      const result = await runInit([command, '--help'], {});
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^Usage: modelgate-init ${command}`));
      expect(result.stdout).toContain('3  a lock was not acquired in time');
    },
  );
});

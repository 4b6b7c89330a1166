// Issue 14, item 4: a MODEL_SOURCE_URL with a password and a token in its query. The source refuses any request
// that lacks either, so every answer it gives proves both were sent; then every place the built binaries write or
// print is searched for both secrets: the ConfigMap, MODELS_FILE, the init report, `init status`, every log line of
// init and of a started app, its /status and /metrics.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { gunzipSync } from 'node:zlib';
import { CONFIGMAP_GZIP_KEY, CONFIGMAP_KEY } from '../../core/artifact/configmap';
import { initReportPath } from '../../core/artifact/report';
import { serializeArtifact } from '../../core/artifact/schema';
import { artifactFrom, fixture, readArtifact } from '../support/artifacts';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { startConfigMapServer, type ConfigMapServer } from '../support/init/configmap-server';
import { startSourceServer, type SourceServer } from '../support/init/source-server';
import { runInit, summaryOf, type InitRun } from '../support/init/spawn-init';
import { writeAtomically } from '../support/kubelet-volume.mjs';
import { tempDir } from '../support/temp.mjs';

jest.setTimeout(180_000);

const APP_BIN = path.join(__dirname, '..', '..', 'dist', 'bin', 'modelgate-app.js');
const NS = 'modelgate';
const NAME = 'modelgate-models';
const USER = 'reader';
const PASSWORD = randomBytes(24).toString('hex');
const TOKEN = randomBytes(24).toString('hex');
const ROTATED = randomBytes(24).toString('hex');

/** Every form a secret could be printed in: as is, and inside the basic-auth header value. */
const forbidden = [PASSWORD, TOKEN, ROTATED, Buffer.from(`${USER}:${PASSWORD}`).toString('base64')];

function expectNoSecret(where: string, text: string): void {
  for (const secret of forbidden) {
    if (text.includes(secret)) throw new Error(`${where} contains a secret of MODEL_SOURCE_URL:\n${text}`);
  }
}

interface App {
  child: ChildProcess;
  url: string;
  output: string[];
}

async function startApp(env: Record<string, string>): Promise<App> {
  const child = spawn(process.execPath, [APP_BIN], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', SHUTDOWN_DELAY: '0s', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
  const port = await new Promise<number>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      const record = JSON.parse(line) as { msg?: string; port?: number };
      if (record.msg === 'modelgate-app listening') resolve(record.port!);
    });
    child.once('exit', (code) => reject(new Error(`modelgate-app exited ${code}:\n${output.join('\n')}`)));
  });
  return { child, url: `http://127.0.0.1:${port}`, output };
}

async function stopApp(app: App): Promise<void> {
  if (app.child.exitCode !== null || app.child.signalCode !== null) return;
  const exited = new Promise((resolve) => app.child.once('exit', resolve));
  app.child.kill('SIGTERM');
  await exited;
}

describe('a MODEL_SOURCE_URL with a password and a token (built binaries, real servers)', () => {
  let testDb: TestDatabase;
  let source: SourceServer;
  let kube: ConfigMapServer;
  let dir: string;
  let file: string;
  /** Answers the source gave to requests carrying both secrets. */
  let authorized: { ifNoneMatch: string | undefined }[];
  let token: string;
  let sourceUrl: string;
  const runs: InitRun[] = [];

  beforeAll(async () => {
    testDb = await createTestDatabase('secret_url');
  });
  afterAll(async () => {
    await testDb.drop();
  });
  beforeEach(async () => {
    authorized = [];
    token = TOKEN;
    const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
    source = await startSourceServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://source');
      if (req.headers.authorization !== basic) return void res.writeHead(401).end('password required');
      if (url.pathname !== '/models.json' || url.searchParams.get('token') !== token)
        return void res.writeHead(403).end('token required');
      authorized.push({ ifNoneMatch: req.headers['if-none-match'] });
      if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304).end();
      res.writeHead(200, { 'content-type': 'application/json', etag: '"v1"' }).end(fixture('quirks.json'));
    });
    kube = await startConfigMapServer();
    kube.put(NS, NAME);
    dir = tempDir('secret-url');
    file = path.join(dir, 'run', 'models.json');
    const at = new URL(source.url);
    sourceUrl = `http://${USER}:${PASSWORD}@${at.host}/models.json?token=${TOKEN}`;
    runs.length = 0;
  });
  afterEach(async () => {
    await source.close();
    await kube.close();
  });

  const env = (overrides: Record<string, string> = {}) => ({
    DATABASE_URL: testDb.url,
    MODEL_SOURCE_URL: sourceUrl,
    MODELS_FILE: file,
    MODELS_CONFIGMAP: `${NS}/${NAME}`,
    KUBECONFIG: kube.kubeconfig(dir),
    MODEL_SOURCE_TIMEOUT: '15s',
    LOG_LEVEL: 'debug',
    ...overrides,
  });

  async function init(command: string, overrides: Record<string, string> = {}): Promise<InitRun> {
    const run = await runInit([command], env(overrides));
    runs.push(run);
    return run;
  }

  /** The ConfigMap as stored, with binaryData inflated. */
  function configMapText(): string {
    const stored = kube.get(NS, NAME);
    const gz = stored?.binaryData?.[CONFIGMAP_GZIP_KEY];
    return JSON.stringify(stored) + (gz ? gunzipSync(Buffer.from(gz, 'base64')).toString('utf8') : '');
  }

  function searchInit(): void {
    expectNoSecret('the ConfigMap', configMapText());
    expectNoSecret('MODELS_FILE', fs.readFileSync(file, 'utf8'));
    expectNoSecret('init-report.json', fs.readFileSync(initReportPath(file), 'utf8'));
    for (const run of runs) expectNoSecret(`init's output`, run.stdout + run.stderr);
  }

  it('sends both secrets to the source and writes neither anywhere', async () => {
    expect((await fetch(source.url.replace('/active_models.json', '/models.json'))).status).toBe(401);

    const all = await init('all');
    expect({ code: all.code, stderr: all.stderr }).toEqual({ code: 0, stderr: '' });
    expect(summaryOf(all).artifact).toMatchObject({ origin: 'fetched', freshness: 'fresh', stale: false });
    expect(authorized).toHaveLength(1);
    const artifact = readArtifact(file);
    expect(artifact.source.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/models\.json#scrypt=[0-9a-f]{64}$/);
    const shown = `http://${new URL(source.url).host}/models.json`;
    // The search means something: init's log lines name the source, redacted.
    expect(all.lines).toContainEqual(expect.objectContaining({ msg: 'model source answered', url: shown }));

    // The cache recognises the same source without its secrets: reused, no request.
    const again = await init('models');
    expect(summaryOf(again).artifact.origin).toBe('reused');
    expect(authorized).toHaveLength(1);

    // The CronJob's conditional request carries both secrets and the validator.
    const refresh = await init('refresh');
    expect(summaryOf(refresh).artifact.origin).toBe('not-modified');
    expect(authorized).toEqual([{ ifNoneMatch: undefined }, { ifNoneMatch: '"v1"' }]);

    const status = await init('status');
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).sinks).toEqual([
      expect.objectContaining({ kind: 'configmap', state: 'fresh', source: shown }),
      expect.objectContaining({ kind: 'file', state: 'fresh', source: shown }),
    ]);
    searchInit();

    // The app, on MODELS_FILE and the ConfigMap mount as the kubelet projects it.
    await testDb.migrateLatest();
    const mount = path.join(dir, 'configmap');
    writeAtomically(mount, { [CONFIGMAP_KEY]: kube.get(NS, NAME)!.data![CONFIGMAP_KEY]! });
    const app = await startApp({
      DATABASE_URL: testDb.url,
      MODELS_FILE: file,
      MODELS_CONFIGMAP_DIR: mount,
      LOG_LEVEL: 'debug',
    });
    try {
      let ready = 0;
      for (let i = 0; i < 200 && ready !== 200; i++) {
        ready = (await fetch(`${app.url}/readyz`)).status;
        if (ready !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(ready).toBe(200);
      const status = await (await fetch(`${app.url}/status`)).text();
      expect(JSON.parse(status).models).toMatchObject({ source: shown, freshness: 'fresh', stale: false });
      const metrics = await (await fetch(`${app.url}/metrics`)).text();
      expect(metrics).toContain(`source="${shown}"`);
      expectNoSecret('/status', status);
      expectNoSecret('/metrics', metrics);
    } finally {
      await stopApp(app);
    }
    expect(app.output.join('\n')).toContain('model catalog loaded');
    expectNoSecret(`the app's output`, app.output.join('\n'));
  });

  it('a rotated token is another source: fetched at once, and still written nowhere', async () => {
    expect((await init('models')).code).toBe(0);
    token = ROTATED;
    sourceUrl = sourceUrl.replace(TOKEN, ROTATED);
    const rotated = await init('models');
    expect(summaryOf(rotated).artifact.origin).toBe('fetched');
    expect(authorized).toEqual([{ ifNoneMatch: undefined }, { ifNoneMatch: undefined }]);
    searchInit();
  });

  it('a failing source names the URL redacted in the error, the report and the log', async () => {
    token = 'something else';
    const failed = await init('models', { MODEL_SOURCE_RETRIES: '0' });
    expect(failed.code).toBe(1);
    expect(summaryOf(failed).error).toMatch(/http:\/\/127\.0\.0\.1:\d+\/models\.json: HTTP 403/);
    for (const run of runs) expectNoSecret(`init's output`, run.stdout + run.stderr);
    expectNoSecret('init-report.json', fs.readFileSync(initReportPath(file), 'utf8'));
  });

  it('replaces an artifact an older version stored with the secret in its URL', async () => {
    // What modelgate-init wrote before the redaction: the URL without userinfo, with its query.
    const legacy = artifactFrom('minimal.json', { url: 'https://replaced.test/', ageMs: 60_000 });
    const text = serializeArtifact(legacy).replace(
      /"url":"[^"]*"/,
      `"url":"http://${new URL(source.url).host}/models.json?token=${TOKEN}"`,
    );
    expect(text).toContain(TOKEN);
    kube.put(NS, NAME, { [CONFIGMAP_KEY]: text });
    const run = await init('models');
    expect(summaryOf(run).artifact.origin).toBe('fetched');
    searchInit();
  });
});

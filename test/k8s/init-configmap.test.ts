// Issue 7, test 1: the built modelgate-init binary's ConfigMap sink against the real API server, authenticated with
// a TokenRequest token of the chart's init ServiceAccount (the chart's own Role and RoleBinding are in place), so
// every RBAC decision is real. Also `wait` and `refresh`, and optimistic concurrency: the 409s come from the API
// server's storage layer, made deterministic by an admission webhook that holds an update mid-flight.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as k8s from '@kubernetes/client-node';
import { CONFIGMAP_GZIP_KEY, CONFIGMAP_KEY } from '../../core/artifact/configmap';
import { initReportPath } from '../../core/artifact/report';
import { parseArtifact } from '../../core/artifact/schema';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { INIT_BIN, runInit, startInit, summaryOf, type InitRun } from '../support/init/spawn-init';
import { json, startSourceServer, type SourceServer } from '../support/init/source-server';
import { startAdmissionGate, type AdmissionGate, type AdmissionRequest } from '../support/k8s/admission-gate';
import {
  adminKubeConfig,
  createNamespace,
  describeK8s,
  issueServiceAccountToken,
  testCluster,
  writeTokenKubeconfig,
} from '../support/k8s/cluster';
import { chartDir, renderChart } from '../support/k8s/commands';
import { deployRbac, type Deployed } from '../support/k8s/deploy';
import { TcpProxy } from '../support/tcp-proxy';
import { tempDir } from '../support/temp.mjs';

const MiB = 1024 * 1024;

/** A morpheus model list. `random` makes every field high-entropy (gzip cannot shrink it much). */
function morpheus(count: number, options: { prefix?: string; random?: boolean } = {}): string {
  const prefix = options.prefix ?? 'model';
  const hex = (bytes: number, i: number) =>
    options.random ? randomBytes(bytes).toString('hex') : i.toString(16).padStart(bytes * 2, '0');
  const models = Array.from({ length: count }, (_, i) => ({
    Id: `0x${hex(32, i)}`,
    Name: options.random ? `${prefix}-${hex(20, i)}` : `${prefix}-${i}`,
    Tags: ['LLM'],
    CreatedAt: 1745330395 + i,
    IsDeleted: false,
    ModelType: 'LLM',
    Fee: 1,
    Stake: 100000000000000000,
    Owner: `0x${options.random ? hex(20, i) : 'ab'.repeat(20)}`,
    IpfsCID: `0x${'cd'.repeat(32)}`,
  }));
  return JSON.stringify({ models });
}

function tempFile(name: string): string {
  return path.join(tempDir('test-init'), name);
}

function output(run: InitRun): string {
  return `exit ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
}

function expectExit(run: InitRun, code: number): void {
  if (run.code !== code) throw new Error(`expected exit ${code}, got ${output(run)}`);
}

describeK8s('modelgate-init against the real API server', ['helm'], (tools) => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let deployed: Deployed;
  let initToken: string;
  let initKubeconfig: string;
  let appKubeconfig: string;
  let db: TestDatabase;
  let source: SourceServer;
  let gate: AdmissionGate;

  /** The artifact in the models ConfigMap as the admin reads it, and where it sits. */
  async function held(name = deployed.modelsConfigMap) {
    const cm = await core.readNamespacedConfigMap({ namespace: deployed.namespace, name });
    const gz = cm.binaryData?.[CONFIGMAP_GZIP_KEY];
    const text = gz ? gunzipSync(Buffer.from(gz, 'base64')).toString('utf8') : cm.data?.[CONFIGMAP_KEY];
    const parsed = text ? parseArtifact(text) : undefined;
    return {
      configMap: cm,
      where: gz ? 'binaryData' : text ? 'data' : 'nowhere',
      artifact: parsed?.ok ? parsed.artifact : undefined,
    };
  }

  function env(overrides: Record<string, string | undefined> = {}) {
    return {
      DATABASE_URL: db.url,
      MODEL_SOURCE_URL: source.url,
      MODELS_FILE: tempFile('models.json'),
      MODELS_CONFIGMAP: `${deployed.namespace}/${deployed.modelsConfigMap}`,
      KUBECONFIG: initKubeconfig,
      ...overrides,
    };
  }

  /** Empties the models ConfigMap (as the chart pre-creates it), keeping its labels. */
  async function resetConfigMap() {
    const { configMap } = await held();
    await core.replaceNamespacedConfigMap({
      namespace: deployed.namespace,
      name: deployed.modelsConfigMap,
      body: { ...configMap, data: {}, binaryData: {} },
    });
  }

  beforeAll(async () => {
    if (!fs.existsSync(INIT_BIN)) throw new Error(`${INIT_BIN} is missing: run \`npm run build\` first`);
    const namespace = await createNamespace('init');
    const objects = await renderChart(tools.helm, {
      release: 'mg',
      namespace,
      valuesFiles: [path.join(chartDir, 'ci', 'default-values.yaml')],
    });
    deployed = await deployRbac(kc, objects, namespace);
    initToken = await issueServiceAccountToken(namespace, deployed.initServiceAccount);
    initKubeconfig = writeTokenKubeconfig(initToken, namespace, 'init');
    appKubeconfig = writeTokenKubeconfig(
      await issueServiceAccountToken(namespace, deployed.unprivilegedServiceAccount),
      namespace,
      'app',
    );
    db = await createTestDatabase('k8s_init');
    await db.migrateLatest();
    source = await startSourceServer(json(morpheus(3)));
    gate = await startAdmissionGate(kc, namespace);
  });

  afterAll(async () => {
    await gate?.close();
    await source?.close();
    await db?.drop();
  });

  afterEach(() => {
    expect(gate.errors).toEqual([]);
    gate.setHandler(() => undefined);
    source.setHandler(json(morpheus(3)));
  });

  it('`models` fills the pre-created ConfigMap as the init ServiceAccount, keeping its labels', async () => {
    const before = await held();
    expect(before.where).toBe('nowhere');
    const e = env();
    const run = await runInit(['models'], e);
    expectExit(run, 0);

    const after = await held();
    expect(after.where).toBe('data');
    expect(after.artifact?.models.map((m) => m.id)).toEqual(['model-0', 'model-1', 'model-2']);
    expect(after.configMap.metadata?.labels).toEqual(before.configMap.metadata?.labels);
    expect(after.configMap.metadata?.resourceVersion).not.toBe(before.configMap.metadata?.resourceVersion);
    // The update went through the API server as the ServiceAccount (seen by the admission gate).
    expect(gate.requests.map((r) => r.username)).toContain(
      `system:serviceaccount:${deployed.namespace}:${deployed.initServiceAccount}`,
    );
    const file = parseArtifact(fs.readFileSync(e.MODELS_FILE, 'utf8'));
    expect(file.ok && file.artifact.sha256).toBe(after.artifact?.sha256);
  });

  it('a source URL with a password and a token: both are sent, the stored ConfigMap holds neither', async () => {
    await resetConfigMap();
    const password = randomBytes(24).toString('hex');
    const token = randomBytes(24).toString('hex');
    const basic = `Basic ${Buffer.from(`reader:${password}`).toString('base64')}`;
    let authorized = 0;
    const guarded = await startSourceServer((req, res, count) => {
      const query = new URL(req.url ?? '/', 'http://source').searchParams;
      if (req.headers.authorization !== basic || query.get('token') !== token)
        return void res.writeHead(401).end();
      authorized++;
      json(morpheus(3), { etag: '"guarded"' })(req, res, count);
    });
    try {
      const host = new URL(guarded.url).host;
      const e = env({ MODEL_SOURCE_URL: `http://reader:${password}@${host}/models.json?token=${token}` });
      const runs = [
        await runInit(['models'], e),
        await runInit(['refresh'], e),
        await runInit(['status'], e),
      ];
      for (const run of runs) expectExit(run, 0);
      expect(authorized).toBe(2);
      const after = await held();
      expect(after.artifact?.source.url).toMatch(
        new RegExp(`^http://${host.replace(/\./g, '\\.')}/models\\.json#scrypt=[0-9a-f]{64}$`),
      );
      // As the API server stores and returns it, binaryData inflated.
      const gz = after.configMap.binaryData?.[CONFIGMAP_GZIP_KEY];
      const stored = [
        JSON.stringify(after.configMap),
        gz ? gunzipSync(Buffer.from(gz, 'base64')).toString('utf8') : '',
        fs.readFileSync(e.MODELS_FILE, 'utf8'),
        fs.readFileSync(initReportPath(e.MODELS_FILE), 'utf8'),
        ...runs.map((run) => run.stdout + run.stderr),
      ].join('\n');
      expect(stored).toContain(`http://${host}/models.json`);
      for (const secret of [password, token, basic.slice('Basic '.length)])
        expect(stored.includes(secret) ? `${secret} found` : 'absent').toBe('absent');
    } finally {
      await guarded.close();
    }
  });

  it('RBAC is real: the app ServiceAccount, and the init one on another ConfigMap, are refused with a clear error', async () => {
    const app = await runInit(['refresh'], env({ KUBECONFIG: appKubeconfig }));
    expectExit(app, 1);
    expect(app.stdout + app.stderr).toContain(
      `forbidden: the ServiceAccount ${deployed.namespace}/${deployed.unprivilegedServiceAccount} may not get ConfigMap ${deployed.namespace}/${deployed.modelsConfigMap}`,
    );

    await core.createNamespacedConfigMap({
      namespace: deployed.namespace,
      body: { metadata: { name: 'other' } },
    });
    const other = await runInit(['refresh'], env({ MODELS_CONFIGMAP: `${deployed.namespace}/other` }));
    expectExit(other, 1);
    expect(other.stdout + other.stderr).toContain(
      `forbidden: the ServiceAccount ${deployed.namespace}/${deployed.initServiceAccount} may not get ConfigMap ${deployed.namespace}/other`,
    );
    expect((await held('other')).where).toBe('nowhere');
  });

  it('`wait` waits for the artifact in the ConfigMap, then copies it to MODELS_FILE', async () => {
    await resetConfigMap();
    const e = env({ WAIT_TIMEOUT: '90s' });
    const waiting = startInit(['wait'], e);
    await waiting.waitForLine((line) => line.msg === 'waiting for the schema and the artifact', 60_000);
    expect(fs.existsSync(e.MODELS_FILE)).toBe(false);

    expectExit(await runInit(['models'], env()), 0);
    const done = await waiting.done;
    expectExit(done, 0);
    const file = parseArtifact(fs.readFileSync(e.MODELS_FILE, 'utf8'));
    expect(file.ok && file.artifact.sha256).toBe((await held()).artifact?.sha256);
  });

  it('`refresh` puts a changed source into the ConfigMap, and never touches MODELS_FILE', async () => {
    source.setHandler(json(morpheus(5, { prefix: 'refreshed' })));
    const e = env();
    expectExit(await runInit(['refresh'], e), 0);
    expect((await held()).artifact?.models.map((m) => m.id)).toEqual([
      'refreshed-0',
      'refreshed-1',
      'refreshed-2',
      'refreshed-3',
      'refreshed-4',
    ]);
    expect(fs.existsSync(e.MODELS_FILE)).toBe(false);
  });

  it('one run, one TLS connection: `refresh` reads and replaces the ConfigMap over a single kept-alive connection', async () => {
    // client-node alone opens a connection (and pays a handshake) per request: three for this run.
    const server = new URL(testCluster().server);
    const proxy = await new TcpProxy({ host: server.hostname, port: Number(server.port) }).start();
    try {
      const through = `${server.protocol}//${server.hostname}:${proxy.port}`;
      const kubeconfig = writeTokenKubeconfig(initToken, deployed.namespace, 'init', through);
      source.setHandler(json(morpheus(4, { prefix: 'one-connection' })));
      expectExit(await runInit(['refresh'], env({ KUBECONFIG: kubeconfig })), 0);
      expect((await held()).artifact?.models.map((m) => m.id)).toEqual([
        'one-connection-0',
        'one-connection-1',
        'one-connection-2',
        'one-connection-3',
      ]);
      expect(proxy.accepted).toBe(1);
    } finally {
      await proxy.stop();
    }
  });

  it('concurrent writers meet 409 and converge on the newest artifact', async () => {
    // Two writers that do not share the single-flight lock (two databases), racing on one resourceVersion: the
    // gate holds the first update until the second has arrived, then admits both.
    const other = await createTestDatabase('k8s_init_b');
    const otherSource = await startSourceServer(json(morpheus(2, { prefix: 'writer-b' })));
    source.setHandler(json(morpheus(2, { prefix: 'writer-a' })));
    try {
      const arrived: (() => void)[] = [];
      gate.setHandler(
        (request) =>
          new Promise<void>((admit) => {
            if (!request.username.startsWith('system:serviceaccount:')) return admit();
            arrived.push(admit);
            if (arrived.length === 2) for (const release of arrived) release();
            if (arrived.length > 2) admit();
            setTimeout(admit, 25_000).unref(); // never beyond the webhook's 30s timeout
          }),
      );
      gate.requests.length = 0;
      const [a, b] = await Promise.all([
        runInit(['refresh'], env()),
        runInit(['refresh'], env({ DATABASE_URL: other.url, MODEL_SOURCE_URL: otherSource.url })),
      ]);
      expectExit(a, 0);
      expectExit(b, 0);

      const raced = gate.requests.filter((r: AdmissionRequest) =>
        r.username.startsWith('system:serviceaccount:'),
      );
      expect(raced.length).toBeGreaterThanOrEqual(2);
      expect(raced[0]!.resourceVersion).toBe(raced[1]!.resourceVersion);
      const conflicted = [a, b].filter((run) =>
        run.lines.some((line) => line.msg === 'ConfigMap changed meanwhile (409), re-reading'),
      );
      expect(conflicted).toHaveLength(1);

      // Converged: the ConfigMap holds the newer of the two (by checkedAt; on a tie the first write stays).
      const resolved = (run: InitRun) => {
        const line = run.lines.find((l) => l.msg === 'model artifact resolved');
        if (!line) throw new Error(`no "model artifact resolved" line: ${output(run)}`);
        return {
          sha256: line.sha256 as string,
          checkedAt: line.checkedAt as string,
          conflicted: conflicted.includes(run),
        };
      };
      const newest = [resolved(a), resolved(b)].sort(
        (x, y) =>
          Date.parse(y.checkedAt) - Date.parse(x.checkedAt) || Number(x.conflicted) - Number(y.conflicted),
      )[0]!;
      expect(summaryOf(a).artifact?.sha256).toBe(resolved(a).sha256);
      expect((await held()).artifact?.sha256).toBe(newest.sha256);
      expect((await held()).artifact?.checkedAt).toBe(newest.checkedAt);
    } finally {
      await otherSource.close();
      await other.drop();
    }
  });

  it('an update by someone else in the middle costs a 409 and a re-read, and neither write is lost', async () => {
    let first = true;
    gate.setHandler(async (request) => {
      if (!request.username.startsWith('system:serviceaccount:') || !first) return;
      first = false;
      // Held inside the API server, precondition read: another writer changes the ConfigMap now.
      await core.patchNamespacedConfigMap(
        {
          namespace: deployed.namespace,
          name: deployed.modelsConfigMap,
          body: { metadata: { annotations: { 'example.com/touched-by': 'operator' } } },
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
    });
    source.setHandler(json(morpheus(4, { prefix: 'after-conflict' })));
    const run = await runInit(['refresh'], env());
    expectExit(run, 0);
    expect(run.lines.some((line) => line.msg === 'ConfigMap changed meanwhile (409), re-reading')).toBe(true);
    const after = await held();
    expect(after.artifact?.models.map((m) => m.id)).toHaveLength(4);
    expect(after.configMap.metadata?.annotations?.['example.com/touched-by']).toBe('operator');
  });

  it('a large artifact goes gzip-compressed to binaryData, and the server stores it', async () => {
    source.setHandler(json(morpheus(6000)));
    const run = await runInit(['refresh'], env());
    expectExit(run, 0);
    const after = await held();
    expect(after.where).toBe('binaryData');
    expect(after.configMap.data?.[CONFIGMAP_KEY]).toBeUndefined();
    expect(after.artifact?.models).toHaveLength(6000);
    // Uncompressed it would not even fit: the gzip path is what makes it storable.
    expect(Buffer.byteLength(JSON.stringify(after.artifact))).toBeGreaterThan(MiB);
  });

  it('an artifact over the 1 MiB limit even compressed fails with the clear message, the ConfigMap untouched', async () => {
    const before = await held();
    source.setHandler(json(morpheus(20_000, { random: true })));
    const run = await runInit(['refresh'], env());
    expectExit(run, 1);
    expect(run.stdout + run.stderr).toMatch(
      /the artifact \(20000 models\) needs \d+ bytes in ConfigMap .* even gzip-compressed, above the 1 MiB ConfigMap limit; unset MODELS_CONFIGMAP/,
    );
    const after = await held();
    expect(after.configMap.metadata?.resourceVersion).toBe(before.configMap.metadata?.resourceVersion);
    expect(after.artifact?.sha256).toBe(before.artifact?.sha256);
  });
});

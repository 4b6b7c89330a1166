import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { serializeArtifact } from '../../../core/artifact/schema';
import { silentLogger } from '../../../core/logger';
import { startRuntime, type Runtime } from '../../../app/runtime';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { gzipArtifact, makeArtifact, writeArtifactFile } from '../../support/artifacts';
import { tempDir } from '../../support/temp.mjs';
import { eventually, untilReady } from '../../support/wait';
import { getJson } from '../../support/http';
import { appConfig } from '../../support/app/config';
import { writeAtomically } from '../../support/kubelet-volume.mjs';
import { stubApi } from '../../support/app/stub-api';

// jest ignores the integration project's testTimeout; these tests start servers and processes on a busy machine.
jest.setTimeout(60_000);

const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();

describe('hot reload while requests run (kubelet atomic writer, plain renames)', () => {
  let testDb: TestDatabase;
  let runtime: Runtime;
  const signals = new EventEmitter();
  let stopLoad = false;
  let load: Promise<void>;
  const failures: string[] = [];
  let served = 0;
  let base: string;

  beforeAll(async () => {
    testDb = await createTestDatabase('app_reload');
    await testDb.migrateLatest();
  });
  afterAll(async () => {
    stopLoad = true;
    await load;
    signals.emit('SIGTERM');
    await eventually(() => (runtime.shutdown.phase() === 'done' ? true : undefined));
    await testDb?.drop();
  });

  async function metric(name: string, labels: string): Promise<number> {
    const text = await (await fetch(`${base}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
    return Number(line?.split(' ').pop() ?? NaN);
  }

  /**
   * Polls the models route until it serves `sha256`; returns how long after the write the app swapped its catalog
   * (the snapshot's load time: what this test's own polling adds on a busy machine is not the app's latency).
   */
  async function servedWithin(sha256: string, writtenAt: number): Promise<number> {
    await eventually(
      async () => ((await getJson(`${base}/api/v1/models`)).body.sha256 === sha256 ? true : undefined),
      5_000,
      `catalog ${sha256.slice(0, 8)}`,
    );
    const snapshot = runtime.store.current()!;
    expect(snapshot.artifact.sha256).toBe(sha256);
    return snapshot.loadedAt - writtenAt;
  }

  it('serves every newer valid artifact within a second and never fails a request', async () => {
    const emptyDir = tempDir('reload-emptydir');
    const configMapDir = tempDir('reload-configmap');
    const file = path.join(emptyDir, 'models.json');
    const first = makeArtifact({ count: 50, prefix: 'first', checkedAt: at(60) });
    writeArtifactFile(file, first);
    writeAtomically(configMapDir, {
      'models.json': serializeArtifact(makeArtifact({ prefix: 'old', checkedAt: at(120) })),
    });
    const api = stubApi();
    runtime = await startRuntime({
      config: appConfig({ DATABASE_URL: testDb.url, MODELS_FILE: file, MODELS_CONFIGMAP_DIR: configMapDir }),
      logger: silentLogger(),
      createApi: api.create,
      exit: () => {},
      signals,
      // Far beyond the test: only directory events can make these reloads happen in time.
      pollIntervalMs: 600_000,
    });
    base = `http://127.0.0.1:${runtime.port}`;
    await untilReady(base);
    expect((await getJson(`${base}/api/v1/models`)).body.sha256).toBe(first.sha256);

    load = (async () => {
      const agent = async () => {
        while (!stopLoad) {
          try {
            const res = await fetch(`${base}/api/v1/models`);
            const body = (await res.json()) as { data?: unknown[] };
            if (res.status !== 200 || !Array.isArray(body.data) || body.data.length === 0)
              failures.push(`status ${res.status}`);
            else served += 1;
          } catch (error) {
            failures.push(String(error));
          }
        }
      };
      await Promise.all([agent(), agent(), agent()]);
    })();

    // 1. The kubelet publishes a newer ConfigMap generation (..data symlink swap).
    const second = makeArtifact({ count: 60, prefix: 'second', checkedAt: at(50) });
    let writtenAt = Date.now();
    writeAtomically(configMapDir, { 'models.json': serializeArtifact(second) });
    expect(await servedWithin(second.sha256, writtenAt)).toBeLessThan(1_000);

    // 2. A large artifact moved to binaryData: models.json.gz replaces models.json.
    const third = makeArtifact({ count: 70, prefix: 'third', checkedAt: at(40) });
    writtenAt = Date.now();
    writeAtomically(configMapDir, { 'models.json.gz': gzipArtifact(third) });
    expect(await servedWithin(third.sha256, writtenAt)).toBeLessThan(1_000);

    // 3. An invalid generation is rejected and counted; the catalog stays.
    const rejectedBefore = await metric('modelgate_models_reloads_total', 'result="rejected"');
    writeAtomically(configMapDir, { 'models.json.gz': Buffer.from('not gzip at all') });
    await eventually(async () =>
      (await metric('modelgate_models_reloads_total', 'result="rejected"')) > rejectedBefore
        ? true
        : undefined,
    );
    expect((await getJson(`${base}/api/v1/models`)).body.sha256).toBe(third.sha256);

    // 4. A plain rename over MODELS_FILE (what init and editors do).
    const fourth = makeArtifact({ count: 80, prefix: 'fourth', checkedAt: at(30) });
    writtenAt = Date.now();
    writeArtifactFile(file, fourth);
    expect(await servedWithin(fourth.sha256, writtenAt)).toBeLessThan(1_000);

    // 5. An older artifact is ignored, never served.
    const ignoredBefore = await metric('modelgate_models_reloads_total', 'result="ignored"');
    writeArtifactFile(file, makeArtifact({ prefix: 'older', checkedAt: at(90) }));
    await eventually(async () =>
      (await metric('modelgate_models_reloads_total', 'result="ignored"')) > ignoredBefore ? true : undefined,
    );
    expect((await getJson(`${base}/api/v1/models`)).body.sha256).toBe(fourth.sha256);

    // 6. MODELS_FILE disappearing does not take the catalog away. (The rejected ConfigMap generation after it
    // proves a reload pass ran after the removal.)
    fs.rmSync(file);
    const rejectedNow = await metric('modelgate_models_reloads_total', 'result="rejected"');
    writeAtomically(configMapDir, { 'models.json': '{"formatVersion":1}' });
    await eventually(async () =>
      (await metric('modelgate_models_reloads_total', 'result="rejected"')) > rejectedNow ? true : undefined,
    );
    expect((await getJson(`${base}/readyz`)).status).toBe(200);
    expect((await getJson(`${base}/api/v1/models`)).body.sha256).toBe(fourth.sha256);

    stopLoad = true;
    await load;
    expect(failures).toEqual([]);
    expect(served).toBeGreaterThan(20);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('modelgate_models 80');
    expect(text).toContain(
      `modelgate_models_artifact_info{sha256="${fourth.sha256}",source="https://models.example.test/active_models.json"} 1`,
    );
    expect(await metric('modelgate_models_reloads_total', 'result="applied"')).toBeGreaterThanOrEqual(4);
  });
});

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { INIT_REPORT_FILE, type InitReport } from '../../../core/artifact/report';
import { silentLogger } from '../../../core/logger';
import { createRoutingMetrics } from '../../../app/api/routing/routing-metrics';
import { startRuntime, type Runtime } from '../../../app/runtime';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { makeArtifact, writeArtifactFile } from '../../support/artifacts';
import { freePort } from '../../support/ports.mjs';
import { tempDir } from '../../support/temp.mjs';
import { eventually, untilReady } from '../../support/wait';
import { getJson } from '../../support/http';
import { appConfig } from '../../support/app/config';
import { stubApi } from '../../support/app/stub-api';

// jest ignores the integration project's testTimeout; these tests start servers and processes on a busy machine.
jest.setTimeout(60_000);

const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool';
const PROMETHEUS = process.env.PROMETHEUS ?? '/usr/bin/prometheus';

const report: InitReport = {
  formatVersion: 1,
  command: 'all',
  pod: 'modelgate-app-abc',
  startedAt: '2026-11-24T10:00:00.000Z',
  finishedAt: '2026-11-24T10:00:02.500Z',
  exitCode: 0,
  error: null,
  migrations: { applied: [], pendingBefore: 0 },
  artifact: { origin: 'fetched', models: 5, sha256: null, stale: false },
  durations: { waitDb: 0.25, migrate: 0.5, models: 1.5, total: 2.5 },
};

describe('/metrics (promtool, a real Prometheus server)', () => {
  let testDb: TestDatabase;
  let runtime: Runtime;
  let base: string;
  const signals = new EventEmitter();
  let prometheus: ChildProcess | undefined;

  beforeAll(async () => {
    testDb = await createTestDatabase('app_metrics');
    await testDb.migrateLatest();
    const dir = tempDir('metrics');
    const file = path.join(dir, 'models.json');
    writeArtifactFile(file, makeArtifact({ count: 5 }));
    fs.writeFileSync(path.join(dir, INIT_REPORT_FILE), JSON.stringify(report));
    runtime = await startRuntime({
      config: appConfig({ DATABASE_URL: testDb.url, MODELS_FILE: file }),
      logger: silentLogger(),
      createApi: stubApi().create,
      exit: () => {},
      signals,
      pollIntervalMs: 600_000,
    });
    base = `http://127.0.0.1:${runtime.port}`;
    await untilReady(base);
    // What the routing does on upstream calls.
    const metrics = createRoutingMetrics(runtime.registry);
    metrics.duration.observe({ upstream: 'a', model: 'm', status_code: '200' }, 0.42);
    metrics.errors.inc({ upstream: 'a', model: 'm', reason: 'timeout' });
    await fetch(`${base}/api/v1/models`);
    await fetch(`${base}/nowhere`);
  }, 30_000);
  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await exited;
    }
    signals.emit('SIGTERM');
    await eventually(() => (runtime.shutdown.phase() === 'done' ? true : undefined));
    await testDb?.drop();
  });

  it('exports every documented series and passes promtool check metrics', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const expected of [
      'process_cpu_seconds_total ',
      'nodejs_heap_size_used_bytes ',
      'http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/models",status_code="200"}',
      'http_request_duration_seconds_count{method="GET",route="unmatched",status_code="404"} 1',
      'modelgate_models 5',
      'modelgate_models_artifact_info{sha256="',
      'modelgate_models_artifact_age_seconds ',
      'modelgate_models_reloads_total{result="applied"} 1',
      'modelgate_models_reloads_total{result="rejected"} 0',
      'modelgate_ready 1',
      'modelgate_schema_compatible 1',
      'modelgate_init_step_duration_seconds{step="migrate"} 0.5',
      'modelgate_init_step_duration_seconds{step="total"} 2.5',
      'modelgate_init_artifact_origin{origin="fetched"} 1',
      'modelgate_init_artifact_origin{origin="last-known-good"} 0',
      'modelgate_init_finished_timestamp_seconds 1795514402.5',
      'modelgate_upstream_request_duration_seconds_count{upstream="a",model="m",status_code="200"} 1',
      'modelgate_upstream_errors_total{upstream="a",model="m",reason="timeout"} 1',
    ])
      expect(text).toContain(expected);
    const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect({ status: check.status, stdout: check.stdout, stderr: check.stderr }).toEqual({
      status: 0,
      stdout: '',
      stderr: '',
    });
  });

  it('is scraped by a real Prometheus server, whose API returns the series', async () => {
    const dir = tempDir('prometheus');
    const port = await freePort();
    fs.writeFileSync(
      path.join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        'scrape_configs:',
        '  - job_name: modelgate',
        `    static_configs: [{ targets: ['127.0.0.1:${runtime.port}'] }]`,
        '',
      ].join('\n'),
    );
    let log = '';
    prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout!.on('data', (chunk) => (log += chunk));
    prometheus.stderr!.on('data', (chunk) => (log += chunk));
    const query = async (expr: string) => {
      const res = await getJson(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const result = res.body?.data?.result as { metric: Record<string, string>; value: [number, string] }[];
      return result?.length ? result : undefined;
    };
    try {
      const up = await eventually(() => query('up{job="modelgate"} == 1'), 30_000, 'a successful scrape');
      expect(up[0]!.metric.instance).toBe(`127.0.0.1:${runtime.port}`);
      const models = await eventually(() => query('modelgate_models'), 10_000, 'modelgate_models');
      expect(models[0]!.value[1]).toBe('5');
      const ready = await eventually(() => query('modelgate_ready'), 10_000, 'modelgate_ready');
      expect(ready[0]!.value[1]).toBe('1');
      const routes = await eventually(
        () => query('http_request_duration_seconds_count{route="/api/v1/models"}'),
        10_000,
        'route-labelled request durations',
      );
      expect(routes[0]!.metric).toMatchObject({ method: 'GET', status_code: '200' });
      const origin = await eventually(
        () => query('modelgate_init_artifact_origin == 1'),
        10_000,
        'init origin',
      );
      expect(origin[0]!.metric.origin).toBe('fetched');
    } catch (error) {
      throw new Error(`${(error as Error).message}\nprometheus log:\n${log.slice(-3000)}`, { cause: error });
    }
  }, 60_000);
});

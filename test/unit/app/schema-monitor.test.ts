import { Registry } from 'prom-client';
import type { Knex } from 'knex';
import type { SchemaState } from '../../../core/db/migrations';
import { silentLogger } from '../../../core/logger';
import { createMetrics } from '../../../app/metrics';
import { createSchemaMonitor } from '../../../app/schema-monitor';

const behind: SchemaState = {
  compatible: false,
  required: 'b.js',
  latestApplied: 'a.js',
  reason: 'lacks b.js',
};
const current: SchemaState = { compatible: true, required: 'b.js', latestApplied: 'b.js', ahead: false };

describe('schema monitor', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('retries every retryMs while the schema is behind, then stops checking', async () => {
    const answers = [behind, behind, current];
    const check = jest.fn(async () => answers.shift() ?? current);
    const registry = new Registry();
    const monitor = createSchemaMonitor({
      db: {} as Knex,
      databaseUrl: 'postgres://u:p@db:5432/app',
      logger: silentLogger(),
      metrics: createMetrics(registry),
      retryMs: 3_000,
      check,
    });
    monitor.start();
    await jest.advanceTimersByTimeAsync(0);
    expect(monitor.view()).toMatchObject({ state: 'incompatible', reason: 'lacks b.js' });
    expect(monitor.compatible()).toBe(false);
    await jest.advanceTimersByTimeAsync(2_999);
    expect(check).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(check).toHaveBeenCalledTimes(2);
    await jest.advanceTimersByTimeAsync(3_000);
    expect(monitor.compatible()).toBe(true);
    expect(await registry.getSingleMetricAsString('modelgate_schema_compatible')).toContain(
      'modelgate_schema_compatible 1',
    );
    await jest.advanceTimersByTimeAsync(60_000);
    expect(check).toHaveBeenCalledTimes(3);
    await monitor.stop();
  });

  it('reports an unreachable database without its credentials and keeps retrying', async () => {
    const check = jest.fn(async () => {
      throw new Error('connect ECONNREFUSED');
    });
    const monitor = createSchemaMonitor({
      db: {} as Knex,
      databaseUrl: 'postgres://user:hunter2@db.internal:6432/app',
      logger: silentLogger(),
      metrics: createMetrics(new Registry()),
      retryMs: 1_000,
      check,
    });
    monitor.start();
    await jest.advanceTimersByTimeAsync(0);
    const view = monitor.view();
    expect(view.state).toBe('unreachable');
    if (view.state === 'unreachable') {
      expect(view.reason).toBe(
        'cannot read the schema version from db.internal:6432/app: connect ECONNREFUSED',
      );
      expect(view.reason).not.toContain('hunter2');
    }
    await jest.advanceTimersByTimeAsync(2_000);
    expect(check).toHaveBeenCalledTimes(3);
    await monitor.stop();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(check).toHaveBeenCalledTimes(3);
  });
});

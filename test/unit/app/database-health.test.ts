import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { createDatabaseHealth, type DatabaseHealthOptions } from '../../../app/database-health';
import { createMetrics } from '../../../app/metrics';
import { createLogger } from '../../../core/logger';

class Lines extends Writable {
  readonly records: { level: string; msg: string; reason?: string }[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean))
      this.records.push(JSON.parse(line));
    done();
  }
}

const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:5432'), { code: 'ECONNREFUSED' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

/** A database whose answer the test decides: `up`, `refused`, or `hang` (never answers). */
function database() {
  const state = { mode: 'up' as 'up' | 'refused' | 'hang', probes: 0 };
  const probe = () => {
    state.probes += 1;
    if (state.mode === 'up') return Promise.resolve();
    if (state.mode === 'refused') return Promise.reject(refused());
    return new Promise<void>(() => undefined);
  };
  return { state, probe };
}

function setup(overrides: Partial<DatabaseHealthOptions> = {}) {
  const db = database();
  const logs = new Lines();
  const registry = new Registry();
  const metrics = createMetrics(registry);
  const health = createDatabaseHealth({
    probe: db.probe,
    logger: createLogger({ component: 'test', level: 'debug', destination: logs }),
    metrics,
    intervalMs: 60_000,
    retryMs: 10,
    probeTimeoutMs: 50,
    ...overrides,
  });
  const events: string[] = [];
  health.on('down', () => events.push('down'));
  health.on('up', () => events.push('up'));
  return { db, logs, registry, metrics, health, events };
}

describe('database health (the outage detector)', () => {
  it('starts reachable, finds an outage on a reported connection failure, and its end by probing', async () => {
    const { db, health, events, logs, registry } = setup();
    health.start();
    await until(() => db.state.probes === 1);
    expect(health.reachable()).toBe(true);

    db.state.mode = 'refused';
    const failedAt = Date.now();
    health.reportFailure(refused());
    await until(() => !health.reachable());
    expect(events).toEqual(['down']);
    expect(health.reason()).toBe('connection refused');
    expect(health.downSince()!.getTime()).toBeGreaterThanOrEqual(failedAt);
    expect(await registry.getSingleMetricAsString('modelgate_database_up')).toMatch(/ 0$/m);

    // Probed every retryMs meanwhile; nothing more is logged however long it lasts.
    const probes = db.state.probes;
    await until(() => db.state.probes > probes + 3);
    db.state.mode = 'up';
    await until(() => health.reachable());
    expect(events).toEqual(['down', 'up']);
    expect(health.view()).toMatchObject({
      state: 'reachable',
      outages: 1,
      lastOutage: { reason: 'connection refused' },
    });
    expect(await registry.getSingleMetricAsString('modelgate_database_outages_total')).toMatch(/ 1$/m);
    const notable = logs.records.filter((r) => r.level !== 'debug').map((r) => [r.level, r.msg]);
    expect(notable).toEqual([
      [
        'warn',
        'database unreachable: known API keys are served from memory, routes that need the database answer 503',
      ],
      ['info', 'database reachable again'],
    ]);
    // The address in the driver's message is never repeated.
    expect(JSON.stringify(logs.records)).not.toContain('10.0.0.7');
    health.stop();
  });

  it('ignores failures that are not about reaching the database', async () => {
    const { db, health } = setup();
    health.start();
    await until(() => db.state.probes === 1);
    health.reportFailure(Object.assign(new Error('duplicate key'), { code: '23505' }));
    await sleep(30);
    expect(db.state.probes).toBe(1);
    health.stop();
  });

  it('does not call a single failed query an outage when the probe answers', async () => {
    const { db, health, events } = setup();
    health.start();
    await until(() => db.state.probes === 1);
    health.reportFailure(Object.assign(new Error('Connection terminated unexpectedly'), {}));
    await until(() => db.state.probes === 2);
    await sleep(20);
    expect(events).toEqual([]);
    expect(health.reachable()).toBe(true);
    health.stop();
  });

  it('calls a probe that does not answer within its timeout an outage, without stacking probes', async () => {
    const { db, health, events } = setup({ probeTimeoutMs: 30 });
    health.start();
    await until(() => db.state.probes === 1);
    db.state.mode = 'hang';
    void health.check();
    await until(() => !health.reachable());
    expect(events).toEqual(['down']);
    expect(health.reason()).toBe('no answer within 30 ms');
    await sleep(100);
    // The hanging probe is waited for, not joined by one more every retryMs.
    expect(db.state.probes).toBe(2);
    health.stop();
  });

  it('stays unreachable until the steps before reachability succeed', async () => {
    const { db, health, events } = setup();
    let stepFails = true;
    let steps = 0;
    health.beforeReachable(async () => {
      steps += 1;
      if (stepFails) throw refused();
    });
    health.start();
    db.state.mode = 'refused';
    void health.check();
    await until(() => !health.reachable());
    db.state.mode = 'up';
    await until(() => steps >= 2);
    expect(health.reachable()).toBe(false);
    expect(health.reason()).toBe('catching up after the outage failed: connection refused');
    stepFails = false;
    await until(() => health.reachable());
    expect(events).toEqual(['down', 'up']);
    health.stop();
  });

  it('reports the outage duration to the metric before a scrape, and nothing after stop', async () => {
    let now = 1_000_000;
    const { db, health, registry } = setup({ now: () => now });
    health.start();
    db.state.mode = 'refused';
    void health.check();
    await until(() => !health.reachable());
    now += 42_000;
    health.refreshMetrics();
    expect(await registry.getSingleMetricAsString('modelgate_database_unreachable_seconds')).toMatch(/ 42$/m);
    expect(health.view()).toMatchObject({
      state: 'unreachable',
      forSeconds: 42,
      reason: 'connection refused',
    });
    health.stop();
    const probes = db.state.probes;
    await sleep(50);
    expect(db.state.probes).toBe(probes);
  });
});

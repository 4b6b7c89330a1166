import { Registry } from 'prom-client';
import { FakeHealth } from '../../../app/database-health-fake';
import { createMetrics } from '../../../app/metrics';
import type { CompletionRecord } from '../../../app/api/usage/completion-record';
import { recordId } from '../../../app/api/usage/record-id';
import { UsageLedger } from '../../../app/api/usage/usage-ledger';
import { createUsageMetrics } from '../../../app/api/usage/usage-metrics';
import { FakeUsageStore } from '../../../app/api/usage/usage-store-fake';
import { silentLogger } from '../../../core/logger';

const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

let sequence = 0;
function record(overrides: Partial<CompletionRecord> = {}): CompletionRecord {
  sequence += 1;
  return {
    requestId: `req-${sequence}`,
    keyId: '00000000-0000-4000-8000-000000000001',
    userId: '00000000-0000-4000-8000-0000000000aa',
    kind: 'chat',
    model: 'm',
    upstream: 'u',
    upstreamModel: 'um',
    status: 200,
    promptTokens: 3,
    completionTokens: 5,
    estimated: false,
    durationMs: 12,
    ttftMs: 4,
    at: new Date(),
    ...overrides,
  };
}

function setup(options: { batchSize?: number; maxPending?: number; stopTimeoutMs?: number } = {}) {
  const store = new FakeUsageStore();
  const health = new FakeHealth();
  const registry = new Registry();
  const ledger = new UsageLedger({
    store,
    health,
    logger: silentLogger(),
    metrics: { ...createMetrics(registry), ...createUsageMetrics(registry) },
    flushIntervalMs: 60_000,
    batchSize: options.batchSize ?? 3,
    maxPending: options.maxPending ?? 100,
    stopTimeoutMs: options.stopTimeoutMs ?? 2_000,
  });
  const metric = async (name: string) =>
    (await registry.getSingleMetric(name)!.get()).values
      .filter((v) => {
        const metricName = (v as { metricName?: string }).metricName;
        return metricName === undefined || metricName === name || metricName === `${name}_count`;
      })
      .map((v) => ({ labels: v.labels, value: v.value }));
  return { store, health, ledger, metric };
}

describe('record ids', () => {
  it('are version 7 UUIDs that sort by their time and never repeat', () => {
    const ids = Array.from({ length: 2_000 }, (_, i) => recordId(1_700_000_000_000 + i));
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(recordId(0x0123456789ab).slice(0, 13)).toBe('01234567-89ab');
  });
});

describe('usage ledger', () => {
  it('queues records without writing them, then writes them in batches of USAGE_BATCH_SIZE', async () => {
    const { store, ledger, metric } = setup({ batchSize: 3 });
    ledger.onCompletion(record());
    ledger.onCompletion(record());
    expect(store.batches).toHaveLength(0);
    expect(ledger.pendingCount).toBe(2);
    await ledger.flush();
    expect(store.batches.map((b) => b.length)).toEqual([2]);
    expect(ledger.pendingCount).toBe(0);
    expect(await metric('modelgate_usage_records_written_total')).toEqual([{ labels: {}, value: 2 }]);
  });

  it('writes a full batch at once, without waiting for the interval', async () => {
    const { store, ledger } = setup({ batchSize: 3 });
    for (let i = 0; i < 7; i++) ledger.onCompletion(record());
    await ledger.flush();
    expect(store.batches.flat()).toHaveLength(7);
    expect(Math.max(...store.batches.map((b) => b.length))).toBeLessThanOrEqual(3);
  });

  it('keeps records the database refused and writes them once it answers; none twice', async () => {
    const { store, ledger, metric } = setup({ batchSize: 10 });
    store.failNext = [refused()];
    for (let i = 0; i < 4; i++) ledger.onCompletion(record());
    await ledger.flush();
    expect(store.rows.size).toBe(0);
    expect(ledger.pendingCount).toBe(4);
    await ledger.flush();
    expect(store.rows.size).toBe(4);
    expect(await metric('modelgate_usage_flush_failures_total')).toEqual([{ labels: {}, value: 1 }]);
    expect(await metric('modelgate_usage_flush_duration_seconds')).toEqual([{ labels: {}, value: 2 }]);
  });

  it('holds records through an outage up to USAGE_BUFFER_MAX, counts each one dropped, writes the rest on return', async () => {
    const { store, ledger, health, metric } = setup({ batchSize: 2, maxPending: 5 });
    ledger.start();
    health.down();
    for (let i = 0; i < 8; i++) ledger.onCompletion(record());
    await ledger.flush();
    expect(store.batches).toHaveLength(0);
    expect(ledger.pendingCount).toBe(5);
    expect(ledger.droppedCount).toBe(3);
    expect(await metric('modelgate_buffer_dropped_total')).toEqual([
      { labels: { buffer: 'usage' }, value: 3 },
    ]);
    expect(await metric('modelgate_buffer_pending')).toEqual([{ labels: { buffer: 'usage' }, value: 5 }]);
    await health.up();
    await ledger.flush();
    expect(store.rows.size).toBe(5);
    await ledger.stop();
  });

  it('stop writes every pending record, those made while it runs included', async () => {
    const { store, ledger } = setup({ batchSize: 2 });
    ledger.start();
    for (let i = 0; i < 5; i++) ledger.onCompletion(record());
    let release!: () => void;
    store.gate = new Promise((resolve) => (release = resolve));
    const stopping = ledger.stop();
    ledger.onCompletion(record());
    store.gate = undefined;
    release();
    await stopping;
    expect(store.rows.size).toBe(6);
  });

  it('stop gives up after its bound when the database does not answer, counting what is left as dropped', async () => {
    const { store, ledger, metric } = setup({ stopTimeoutMs: 50 });
    ledger.onCompletion(record());
    ledger.onCompletion(record());
    store.gate = new Promise(() => undefined);
    const started = Date.now();
    await ledger.stop();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(store.rows.size).toBe(0);
    expect(ledger.droppedCount).toBe(2);
    expect(await metric('modelgate_buffer_dropped_total')).toEqual([
      { labels: { buffer: 'usage' }, value: 2 },
    ]);
  });

  it('stop during an outage counts every record it could not write as dropped, besides those beyond the bound', async () => {
    const { store, ledger, health, metric } = setup({ maxPending: 3 });
    ledger.start();
    health.down();
    for (let i = 0; i < 5; i++) ledger.onCompletion(record());
    await ledger.stop();
    expect(store.rows.size).toBe(0);
    // Every record made is written or counted: 2 beyond USAGE_BUFFER_MAX, 3 pending at the end.
    expect(ledger.droppedCount).toBe(5);
    expect(await metric('modelgate_buffer_dropped_total')).toEqual([
      { labels: { buffer: 'usage' }, value: 5 },
    ]);
  });

  it('a stop that wrote everything counts nothing as dropped', async () => {
    const { ledger, metric } = setup();
    ledger.onCompletion(record());
    await ledger.stop();
    expect(ledger.droppedCount).toBe(0);
    expect(await metric('modelgate_buffer_dropped_total')).toEqual([
      { labels: { buffer: 'usage' }, value: 0 },
    ]);
  });

  it('the same record written twice (a commit acknowledged too late) is one row', async () => {
    const { store, ledger } = setup();
    ledger.onCompletion(record());
    await ledger.flush();
    const [batch] = store.batches;
    expect(await store.insert(batch!)).toBe(0);
    expect(store.rows.size).toBe(1);
  });
});

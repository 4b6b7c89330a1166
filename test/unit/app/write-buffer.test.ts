import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { FakeHealth } from '../../../app/database-health-fake';
import { createMetrics } from '../../../app/metrics';
import { WriteBuffer } from '../../../app/write-buffer';
import { createLogger } from '../../../core/logger';

class Lines extends Writable {
  readonly records: { level: string; msg: string }[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean))
      this.records.push(JSON.parse(line));
    done();
  }
}

const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

/** A ledger-like buffer (every record kept, in order) over a table the test can make fail. */
function setup(maxItems = 5) {
  const written: number[][] = [];
  const table = { failWith: undefined as Error | undefined };
  const health = new FakeHealth();
  const logs = new Lines();
  const registry = new Registry();
  const buffer = new WriteBuffer<number>({
    name: 'usage',
    write: async (batch) => {
      if (table.failWith) throw table.failWith;
      written.push([...batch]);
    },
    health,
    logger: createLogger({ component: 'test', destination: logs }),
    metrics: createMetrics(registry),
    maxItems,
    batchSize: 2,
    flushIntervalMs: 60_000,
  });
  return { written, table, health, logs, registry, buffer };
}

describe('WriteBuffer (records held for the database)', () => {
  it('writes every record in batches, in order', async () => {
    const { written, buffer } = setup();
    for (const n of [1, 2, 3, 4, 5]) buffer.add(n);
    await buffer.flush();
    expect(written).toEqual([[1, 2], [3, 4], [5]]);
    expect(buffer.size).toBe(0);
  });

  it('holds records through an outage up to its bound, counts the rest, and writes them on return', async () => {
    const { written, table, health, logs, registry, buffer } = setup(3);
    buffer.start();
    health.down();
    table.failWith = refused();
    for (const n of [1, 2, 3, 4, 5]) buffer.add(n);
    await buffer.flush();
    expect(written).toEqual([]);
    expect(buffer.size).toBe(3);
    expect(buffer.droppedCount).toBe(2);
    expect(await registry.getSingleMetricAsString('modelgate_buffer_dropped_total')).toContain(
      'modelgate_buffer_dropped_total{buffer="usage"} 2',
    );
    table.failWith = undefined;
    await health.up();
    await buffer.flush();
    expect(written.flat()).toEqual([1, 2, 3]);
    await buffer.stop();
    expect(logs.records).toEqual([]);
  });

  it('keeps a batch whose write failed, and says so once until a write succeeds', async () => {
    const { written, table, logs, buffer } = setup();
    buffer.add(1);
    table.failWith = new Error('permission denied for table usage');
    await buffer.flush();
    await buffer.flush();
    expect(logs.records.map((r) => r.level)).toEqual(['warn']);
    table.failWith = undefined;
    await buffer.flush();
    expect(written).toEqual([[1]]);
    expect(logs.records.map((r) => r.level)).toEqual(['warn', 'info']);
  });

  it('says how many records it could not write when stopped during an outage', async () => {
    const { health, logs, buffer } = setup();
    health.down();
    buffer.add(1);
    await buffer.stop();
    expect(logs.records).toEqual([expect.objectContaining({ level: 'warn', pending: 1, buffer: 'usage' })]);
  });
});

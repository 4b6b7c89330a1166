import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * The usage ledger's own metrics. Its queue depth and the records it dropped are the write buffer's
 * (modelgate_buffer_pending and modelgate_buffer_dropped_total with buffer="usage"), like every buffered write.
 */
export interface UsageMetrics {
  /** `kind`: prompt or completion; `estimated`: "true" when counted with the tokenizer. */
  tokens: Counter<'model' | 'kind' | 'estimated'>;
  written: Counter;
  flushFailures: Counter;
  flushDuration: Histogram;
}

const byRegistry = new WeakMap<Registry, UsageMetrics>();

export function createUsageMetrics(registry: Registry): UsageMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const metrics: UsageMetrics = {
    tokens: new Counter({
      name: 'modelgate_usage_tokens_total',
      help: 'Tokens of finished chat completions and embeddings by model, kind (prompt, completion) and whether the gateway estimated them (the upstream reported no usage).',
      labelNames: ['model', 'kind', 'estimated'],
      registers,
    }),
    written: new Counter({
      name: 'modelgate_usage_records_written_total',
      help: 'Usage records written to the ledger (PostgreSQL).',
      registers,
    }),
    flushFailures: new Counter({
      name: 'modelgate_usage_flush_failures_total',
      help: 'Ledger batches that could not be written (kept and retried; none are tried while the database is unreachable).',
      registers,
    }),
    flushDuration: new Histogram({
      name: 'modelgate_usage_flush_duration_seconds',
      help: 'Time to write one batch of usage records, failed attempts included.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
  };
  metrics.written.inc(0);
  metrics.flushFailures.inc(0);
  byRegistry.set(registry, metrics);
  return metrics;
}

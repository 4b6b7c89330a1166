import { Registry } from 'prom-client';
import { createMetrics } from '../../../app/metrics';

describe('createMetrics', () => {
  it('is idempotent per registry, so the runtime and the API share the objects', () => {
    const registry = new Registry();
    const first = createMetrics(registry);
    expect(createMetrics(registry)).toBe(first);
    expect(registry.getSingleMetric('modelgate_models_reloads_total')).toBe(first.reloads);
    const other = createMetrics(new Registry());
    expect(other).not.toBe(first);
  });

  it('starts the labelled series at zero so rate() works before the first event', async () => {
    const registry = new Registry();
    createMetrics(registry);
    const out = await registry.metrics();
    for (const line of [
      'modelgate_models_reloads_total{result="applied"} 0',
      'modelgate_models_reloads_total{result="ignored"} 0',
      'modelgate_models_reloads_total{result="rejected"} 0',
      'modelgate_init_artifact_origin{origin="fetched"} 0',
      'modelgate_ready 0',
      'modelgate_schema_compatible 0',
    ])
      expect(out).toContain(line);
    expect(out).not.toContain('nodejs_active_handles_total');
  });
});

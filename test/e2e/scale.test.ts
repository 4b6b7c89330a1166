// Scenario 9, Scale: one replica, then eight. The new pods reuse the ConfigMap cache the first one filled: the
// source is asked once in all, and the time from `kubectl scale` to eight ready endpoints is the real-node
// counterpart of the benchmark's process storm (bench/results/e2e-node.json).
import { expectSuccess } from '../support/k8s/commands';
import { until } from './harness/node';
import { recordFigure } from './harness/figures';
import { describeScenario, SERVER } from './harness/scenario';

describeScenario('e2e 9, scale: 1 -> 8 replicas, one source request in total, all Ready', 'scale', (s) => {
  it('scales to 8 Ready pods with one source request', async () => {
    const { source, values } = await s.chartValues({ replicas: 1 });
    await s.release('install', values, ['--wait']);
    expect(await source.requests()).toBe(1);

    const started = Date.now();
    expectSuccess('kubectl scale', await s.kubectl(['scale', 'deployment/mg-modelgate', '--replicas=8']));
    /** when the Service's EndpointSlice first listed n ready endpoints */
    const readyAt: number[] = [];
    await until(
      'eight ready endpoints',
      async () => {
        const n = (await s.readyEndpoints('mg-modelgate')).length;
        while (readyAt.length < n) readyAt.push(Date.now() - started);
        return n === 8 ? true : undefined;
      },
      300_000,
      200,
    );
    const pods = await s.pods(SERVER);
    expect(pods).toHaveLength(8);
    for (const pod of pods) {
      expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(pod.status?.initContainerStatuses?.[0]?.restartCount).toBe(0);
    }
    const statuses = await s.statuses(SERVER);
    expect(statuses.every((p) => p.body?.ready && p.body.models.count === 2)).toBe(true);
    expect(await source.requests()).toBe(1);

    recordFigure('scale', {
      from: 1,
      to: 8,
      sourceRequests: 1,
      allReadyMs: readyAt[7],
      // the newly started pods, in the order the Service listed them ready (the first entry is the old pod)
      readyAtMs: readyAt.slice(1),
    });
  });
});

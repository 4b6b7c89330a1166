// Scenario 2, Gate: with the source down and no last-known-good artifact, no pod may serve. The kubelet keeps
// restarting the init container with its back-off and the Service has no ready endpoint; once the source answers,
// every pod turns Ready with no manual step.
import { until } from './harness/node';
import { recordFigure } from './harness/figures';
import { describeScenario, SERVER } from './harness/scenario';

describeScenario(
  'e2e 2, gate: no artifact, no ready pod; the source back, every pod Ready unattended',
  'gate',
  (s) => {
    it('keeps pods in init while the source fails, and lets them all in once it answers', async () => {
      const { source, values } = await s.chartValues({ replicas: 2 });
      await source.failWith(503);
      // No --wait: the release cannot become ready while the source is down.
      await s.release('install', values);

      // Every pod's init container failed and was restarted by the kubelet at least once; none is Ready.
      const gated = await until(
        'both pods to have restarted their init container',
        async () => {
          const pods = await s.pods(SERVER);
          const restarted = pods.filter(
            (p) => (p.status?.initContainerStatuses?.[0]?.restartCount ?? 0) >= 1,
          );
          return pods.length === 2 && restarted.length === 2 ? pods : undefined;
        },
        180_000,
      );
      for (const pod of gated) {
        expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
        expect(pod.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe('PodInitializing');
        const init = pod.status?.initContainerStatuses?.[0];
        expect(init?.lastState?.terminated?.exitCode).not.toBe(0);
      }
      expect(await s.readyEndpoints('mg-modelgate')).toEqual([]);
      expect(await source.requests()).toBeGreaterThanOrEqual(2);

      const back = Date.now();
      await source.failWith(0);
      const pods = await until(
        'every pod Ready after the source came back',
        async () => {
          const ready = (await s.pods(SERVER)).filter(
            (p) => p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True',
          );
          return ready.length === 2 ? ready : undefined;
        },
        300_000,
      );
      const recoverySeconds = (Date.now() - back) / 1000;
      expect(await s.readyEndpoints('mg-modelgate')).toHaveLength(2);
      const restarts = pods.map((p) => p.status?.initContainerStatuses?.[0]?.restartCount ?? 0);
      recordFigure('gate', {
        replicas: 2,
        initRestartsWhileDown: restarts,
        sourceBackToAllReadySeconds: Math.round(recoverySeconds * 10) / 10,
      });
    });
  },
);

// Scenario 3, Refresh: the chart's CronJob, run by the real CronJob controller, updates the models ConfigMap; the
// kubelet projects it into the running pods; every app reloads it (its /status sha changes) while steady load
// through the Service sees no failure and the Service keeps every ready endpoint. The time from the ConfigMap
// update to the last reload is recorded; it is bounded by the kubelet's sync period (10 s on the e2e node, 1 min by
// default) plus its cache.
import { batch, core, until } from './harness/node';
import { recordFigure } from './harness/figures';
import { describeScenario, expectNoFailedRequests, MORE_MODELS, SERVER } from './harness/scenario';

describeScenario(
  'e2e 3, refresh: CronJob -> ConfigMap -> kubelet projection -> every pod reloads, 0 failed',
  'refresh',
  (s) => {
    it('reloads every pod from a refresh run by the CronJob controller, under load, without a failed request', async () => {
      const { source, values } = await s.chartValues({
        replicas: 3,
        // Every minute: the CronJob controller's own schedule, nothing triggers the Job by hand.
        extra: { refresh: { enabled: true, schedule: '* * * * *', startingDeadlineSeconds: 50 } },
      });
      await s.release('install', values, ['--wait', '--timeout', '5m']);

      const before = await s.statuses(SERVER);
      expect(before.map((p) => p.body?.models?.count)).toEqual([2, 2, 2]);
      const oldSha = before[0]!.body.models.sha256 as string;
      const cm = await core().readNamespacedConfigMap({
        name: 'mg-modelgate-models',
        namespace: s.namespace,
      });
      const oldVersion = cm.metadata!.resourceVersion;

      const load = await s.startModelsLoad();

      await source.serve(MORE_MODELS);
      // The ConfigMap changes when the CronJob's next Job has run `modelgate-init refresh`.
      const updated = await until(
        'the refresh Job to update the models ConfigMap',
        async () => {
          const now = await core().readNamespacedConfigMap({
            name: 'mg-modelgate-models',
            namespace: s.namespace,
          });
          return now.metadata!.resourceVersion !== oldVersion ? Date.now() : undefined;
        },
        150_000,
        200,
      );
      /** @type {Record<string, number>} when each pod served the new artifact */
      const reloadedAt = new Map<string, number>();
      await until(
        'every pod to reload the refreshed artifact',
        async () => {
          for (const p of await s.statuses(SERVER)) {
            if (!reloadedAt.has(p.pod) && p.body?.models?.sha256 && p.body.models.sha256 !== oldSha)
              reloadedAt.set(p.pod, Date.now());
          }
          return reloadedAt.size === 3 ? true : undefined;
        },
        180_000,
        200,
      );
      const summary = await load.stop();

      const after = await s.statuses(SERVER);
      expect(after.map((p) => [p.body.models.count, p.body.ready])).toEqual([
        [3, true],
        [3, true],
        [3, true],
      ]);
      // The same pods: reloaded, not restarted.
      expect(after.map((p) => p.pod).sort()).toEqual(before.map((p) => p.pod).sort());
      for (const pod of await s.pods(SERVER))
        expect(pod.status?.containerStatuses?.[0]?.restartCount).toBe(0);
      expectNoFailedRequests(summary);
      // A reload never costs a pod its readiness: the Service kept all three endpoints throughout.
      expect(summary.minReadyEndpoints).toBe(3);
      expect(summary.ok).toBeGreaterThan(100);

      // The Job that did it was made by the refresh CronJob's controller. The Job controller counts the pod as
      // succeeded only after it exits, which can come after the ConfigMap write and the reloads: wait for it.
      const succeededByCron = await until(
        'a Job of the refresh CronJob to have succeeded',
        async () => {
          const jobs = (await batch().listNamespacedJob({ namespace: s.namespace })).items;
          const done = jobs.filter(
            (j) =>
              j.metadata?.ownerReferences?.some((o) => o.kind === 'CronJob' && o.name.endsWith('-refresh')) &&
              (j.status?.succeeded ?? 0) >= 1,
          );
          return done.length > 0 ? done.length : undefined;
        },
        60_000,
        500,
      );
      expect(succeededByCron).toBeGreaterThanOrEqual(1);

      const lastReload = Math.max(...reloadedAt.values());
      recordFigure('refresh', {
        replicas: 3,
        kubeletSyncFrequencySeconds: 10,
        configMapUpdateToLastReloadSeconds: Math.round((lastReload - updated) / 100) / 10,
        configMapUpdateToFirstReloadSeconds:
          Math.round((Math.min(...reloadedAt.values()) - updated) / 100) / 10,
        load: { sent: summary.sent, ok: summary.ok, failed: summary.failed, ratePerSecond: 20 },
      });
    });
  },
);

// Scenario 5, Job mode: `init.mode: job`. helm runs the pre-install and pre-upgrade hook Job, the real Job
// controller makes its pod and the kubelet runs `modelgate-init all`; the app pods' init container only waits.
import { batch, IMAGE } from './harness/node';
import { recordFigure } from './harness/figures';
import { describeScenario, SERVER, UPGRADE_MIGRATION, upgradeValues } from './harness/scenario';

describeScenario(
  'e2e 5, job mode: the hook Job run by the Job controller, on install and on upgrade',
  'jobmode',
  (s) => {
    it('installs and upgrades with the hook Job; pods only wait', async () => {
      const { db, source, values } = await s.chartValues({ replicas: 2, extra: { init: { mode: 'job' } } });

      const installed = Date.now();
      await s.release('install', values, ['--wait', '--timeout', '5m']);
      const installSeconds = (Date.now() - installed) / 1000;
      await expectHookJobRan();
      const pods = await s.pods(SERVER);
      expect(pods).toHaveLength(2);
      for (const pod of pods) {
        expect(pod.spec?.initContainers?.map((c) => c.args)).toEqual([['wait']]);
        expect(pod.status?.initContainerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
      }
      const statuses = await s.statuses(SERVER);
      expect(statuses.map((p) => [p.body?.ready, p.body?.init?.command])).toEqual([
        [true, 'wait'],
        [true, 'wait'],
      ]);
      expect(await source.requests()).toBe(1);

      const upgraded = Date.now();
      await s.release('upgrade', upgradeValues(values), ['--wait', '--timeout', '5m']);
      const upgradeSeconds = (Date.now() - upgraded) / 1000;
      await expectHookJobRan(IMAGE.upgradeTag);
      expect(await db.upgradeMigrationRuns()).toEqual({ ran: 1, recorded: 1 });
      const after = (await s.statuses(SERVER)).filter((p) => p.status === 200);
      expect(after.length).toBeGreaterThanOrEqual(2);
      expect(after.every((p) => p.body.schema.latestApplied === UPGRADE_MIGRATION && p.body.ready)).toBe(
        true,
      );

      recordFigure('job-mode', {
        replicas: 2,
        helmInstallWaitSeconds: Math.round(installSeconds * 10) / 10,
        helmUpgradeWaitSeconds: Math.round(upgradeSeconds * 10) / 10,
      });
    });

    /** The hook Job exists, succeeded, and its pod was made by the Job controller (not by a test). */
    async function expectHookJobRan(tag: string = IMAGE.tag) {
      const job = await batch().readNamespacedJob({ name: 'mg-modelgate-init', namespace: s.namespace });
      expect(job.status?.succeeded).toBe(1);
      expect(job.spec?.template.spec?.containers[0]?.image).toBe(`${IMAGE.repository}:${tag}`);
      const jobPods = await s.pods(`batch.kubernetes.io/controller-uid=${job.metadata!.uid}`);
      expect(jobPods.length).toBeGreaterThanOrEqual(1);
      const owner = jobPods[0]!.metadata?.ownerReferences?.[0];
      expect({ kind: owner?.kind, controller: owner?.controller }).toEqual({ kind: 'Job', controller: true });
      expect(jobPods[0]!.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
    }
  },
);

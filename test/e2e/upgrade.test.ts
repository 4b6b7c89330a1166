// Scenario 4, Upgrade: `helm upgrade --wait` to a new image tag that carries one more additive migration. The
// Deployment rolls (maxSurge 25 %, maxUnavailable 0), each new pod's init container meets the new migration; it
// runs once, and steady load through the Service sees no failure while old pods drain. Then `helm rollback --wait`
// to the first release: the old image's pods accept the database one migration ahead of them (init finds nothing
// to apply, the app reports the schema `ahead`), again without a failed request.
import { expectSuccess } from '../support/k8s/commands';
import { IMAGE } from './harness/node';
import { recordFigure } from './harness/figures';
import {
  describeScenario,
  expectNoFailedRequests,
  SERVER,
  UPGRADE_MIGRATION,
  upgradeValues,
} from './harness/scenario';

describeScenario(
  'e2e 4, upgrade: a new tag with one more migration, helm upgrade --wait and helm rollback --wait, 0 failed requests',
  'upgrade',
  (s) => {
    it('rolls to the new image under load; its migration runs once', async () => {
      const { db, values } = await s.chartValues({ replicas: 3 });
      await s.release('install', values, ['--wait', '--timeout', '5m']);
      const oldPods = (await s.pods(SERVER)).map((p) => p.metadata!.name!);
      const load = await s.startModelsLoad();

      const started = Date.now();
      await s.release('upgrade', upgradeValues(values), ['--wait', '--timeout', '5m']);
      const rolloutSeconds = (Date.now() - started) / 1000;
      // helm returns once the new ReplicaSet is available; the last old pods may still be draining.
      await new Promise((resolve) => setTimeout(resolve, 8_000));
      const summary = await load.stop();

      const pods = await s.pods(SERVER);
      const current = pods.filter((p) => !p.metadata?.deletionTimestamp);
      expect(current).toHaveLength(3);
      expect(
        current.every((p) => p.spec?.containers[0]?.image === `${IMAGE.repository}:${IMAGE.upgradeTag}`),
      ).toBe(true);
      expect(current.some((p) => oldPods.includes(p.metadata!.name!))).toBe(false);

      expect(await db.upgradeMigrationRuns()).toEqual({ ran: 1, recorded: 1 });
      const statuses = await s.statuses(SERVER);
      expect(statuses.map((p) => p.body?.schema?.latestApplied)).toEqual([
        UPGRADE_MIGRATION,
        UPGRADE_MIGRATION,
        UPGRADE_MIGRATION,
      ]);

      expectNoFailedRequests(summary);
      expect(summary.ok).toBeGreaterThan(50);

      // Back to revision 1 (the old image): no migration runs, the old code serves a schema ahead of it.
      const upgradedPods = current.map((p) => p.metadata!.name!);
      const rollbackLoad = await s.startModelsLoad();
      const rollbackStarted = Date.now();
      expectSuccess('helm rollback', await s.helm(['rollback', 'mg', '1', '--wait', '--timeout', '5m']));
      const rollbackSeconds = (Date.now() - rollbackStarted) / 1000;
      await new Promise((resolve) => setTimeout(resolve, 8_000));
      const rollbackSummary = await rollbackLoad.stop();

      const rolledBack = (await s.pods(SERVER)).filter((p) => !p.metadata?.deletionTimestamp);
      expect(rolledBack).toHaveLength(3);
      expect(rolledBack.map((p) => p.spec?.containers[0]?.image)).toEqual(
        Array(3).fill(`${IMAGE.repository}:${IMAGE.tag}`),
      );
      expect(rolledBack.some((p) => upgradedPods.includes(p.metadata!.name!))).toBe(false);
      expect(await db.upgradeMigrationRuns()).toEqual({ ran: 1, recorded: 1 });
      const back = await s.statuses(SERVER);
      expect(back.map((p) => [p.body?.ready, p.body?.schema?.latestApplied, p.body?.schema?.ahead])).toEqual(
        Array(3).fill([true, UPGRADE_MIGRATION, true]),
      );
      expectNoFailedRequests(rollbackSummary);
      expect(rollbackSummary.ok).toBeGreaterThan(50);

      recordFigure('upgrade', {
        replicas: 3,
        helmUpgradeWaitSeconds: Math.round(rolloutSeconds * 10) / 10,
        helmRollbackWaitSeconds: Math.round(rollbackSeconds * 10) / 10,
        migrationRuns: 1,
        load: { sent: summary.sent, ok: summary.ok, failed: summary.failed, ratePerSecond: 20 },
        rollbackLoad: {
          sent: rollbackSummary.sent,
          ok: rollbackSummary.ok,
          failed: rollbackSummary.failed,
          ratePerSecond: 20,
        },
      });
    });
  },
);

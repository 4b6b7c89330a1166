// Scenario 4, Upgrade: `helm upgrade --wait` to a new image tag that carries one more additive migration. The
// Deployment rolls (maxSurge 25 %, maxUnavailable 0), each new pod's init container meets the new migration; it
// runs once, and steady load through the Service sees no failure while old pods drain. Then `helm rollback --wait`
// to the first release: the old image's pods accept the database one migration ahead of them (init finds nothing
// to apply, the app reports the schema `ahead`), again without a failed request.
import { expectSuccess } from '../support/k8s/commands';
import { describeE2E, IMAGE } from './harness/node';
import { recordFigure } from './harness/figures';
import { chartDir, e2eValues, MODELS, Scenario, startLoad, UPGRADE_MIGRATION } from './harness/scenario';

const SERVER = 'app.kubernetes.io/instance=mg,app.kubernetes.io/component=server';

describeE2E(
  'e2e 4, upgrade: a new tag with one more migration, helm upgrade --wait and helm rollback --wait, 0 failed requests',
  (tools) => {
    let s: Scenario;
    beforeAll(async () => {
      s = await Scenario.create('upgrade', tools);
    });
    afterAll(() => s.cleanup());

    it('rolls to the new image under load; its migration runs once', async () => {
      const db = await s.database();
      const source = await s.modelSource(MODELS);
      const values = e2eValues({ databaseUrl: db.podUrl, sourceUrl: source.url, replicas: 3 });
      expectSuccess(
        'helm install',
        await s.helm([
          'install',
          'mg',
          chartDir,
          '--values',
          s.valuesFile(values),
          '--wait',
          '--timeout',
          '5m',
        ]),
      );
      const oldPods = (await s.pods(SERVER)).map((p) => p.metadata!.name!);
      const svc = await s.service('mg-modelgate');
      const key = await s.apiKey((await s.pods(SERVER))[0]!.status!.podIP!);
      const load = await startLoad({
        url: `http://${svc}/v1/models`,
        headers: { authorization: `Bearer ${key}` },
        rate: 20,
      });

      const started = Date.now();
      expectSuccess(
        'helm upgrade',
        await s.helm([
          'upgrade',
          'mg',
          chartDir,
          '--values',
          s.valuesFile({ ...values, image: { ...(values.image as object), tag: IMAGE.upgradeTag } }),
          '--wait',
          '--timeout',
          '5m',
        ]),
      );
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

      expect(await db.query('SELECT count(*)::int AS runs FROM e2e_upgrade_marker')).toEqual([{ runs: 1 }]);
      expect(
        await db.query('SELECT count(*)::int AS runs FROM knex_migrations WHERE name = $1', [
          UPGRADE_MIGRATION,
        ]),
      ).toEqual([{ runs: 1 }]);
      const statuses = await s.statuses(SERVER);
      expect(statuses.map((p) => p.body?.schema?.latestApplied)).toEqual([
        UPGRADE_MIGRATION,
        UPGRADE_MIGRATION,
        UPGRADE_MIGRATION,
      ]);

      expect(summary).toMatchObject({ failed: 0 });
      expect(summary.ok).toBeGreaterThan(50);

      // Back to revision 1 (the old image): no migration runs, the old code serves a schema ahead of it.
      const upgradedPods = current.map((p) => p.metadata!.name!);
      const rollbackLoad = await startLoad({
        url: `http://${svc}/v1/models`,
        headers: { authorization: `Bearer ${key}` },
        rate: 20,
      });
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
      expect(await db.query('SELECT count(*)::int AS runs FROM e2e_upgrade_marker')).toEqual([{ runs: 1 }]);
      const back = await s.statuses(SERVER);
      expect(back.map((p) => [p.body?.ready, p.body?.schema?.latestApplied, p.body?.schema?.ahead])).toEqual(
        Array(3).fill([true, UPGRADE_MIGRATION, true]),
      );
      expect(rollbackSummary).toMatchObject({ failed: 0 });
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

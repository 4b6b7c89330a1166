// Scenario 6, Faults, as a cluster delivers them: a pod deleted in the middle of a slow migration, a pod deleted
// under load, and the database stopped for 20 s under load.
import path from 'node:path';
import { expectSuccess } from '../support/k8s/commands';
import { ask, describeE2E, e2eNode, IMAGE, spawnInNode, stopChild, uniqueName, until } from './harness/node';
import { recordFigure } from './harness/figures';
import { e2eValues, expectNoFailedRequests, MODELS, Scenario, SERVER } from './harness/scenario';

/** Advisory locks on this scenario's database (the server is shared with the other scenarios). */
const ADVISORY_LOCKS = `SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
const ready = (p: import('@kubernetes/client-node').V1Pod) =>
  !p.metadata?.deletionTimestamp && p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

describeE2E('e2e 6, faults: deleted pods, a database outage', (tools) => {
  const scenarios: Scenario[] = [];
  afterAll(async () => {
    for (const s of scenarios) await s.cleanup();
  });
  async function scenario(prefix: string) {
    const s = await Scenario.create(prefix, tools);
    scenarios.push(s);
    return s;
  }

  it('a pod deleted during a slow migration leaves no lock behind; its replacement migrates and turns Ready', async () => {
    const s = await scenario('slowmig');
    const { db, values } = await s.chartValues({
      tag: IMAGE.upgradeTag,
      extra: { extraEnv: [{ name: 'E2E_MIGRATION_DELAY_SECONDS', value: '20' }] },
    });
    await s.release('install', values);

    // The slow migration is running (its pg_sleep) and holds the migrations lock.
    await until(
      'the slow migration to start',
      async () =>
        (
          await db.query(
            `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep%'`,
          )
        ).length === 1 || undefined,
      180_000,
    );
    expect((await db.query(`${ADVISORY_LOCKS} AND granted`)).length).toBeGreaterThan(0);
    const [victim] = await s.pods(SERVER);
    const victimName = victim!.metadata!.name!;
    expectSuccess('kubectl delete pod', await s.kubectl(['delete', 'pod', victimName, '--wait=false']));

    const replacement = await until(
      'the replacement pod to turn Ready',
      async () => (await s.pods(SERVER)).find((p) => p.metadata!.name !== victimName && ready(p)),
      240_000,
    );
    expect(replacement.status?.initContainerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
    // The killed migration was rolled back with its transaction; the replacement ran it once, to the end.
    expect(await db.upgradeMigrationRuns()).toEqual({ ran: 1, recorded: 1 });
    // No stale lock: no advisory lock is held, and knex's own lock row is free.
    await until(
      'every advisory lock to be released',
      async () => (await db.query(ADVISORY_LOCKS)).length === 0 || undefined,
      30_000,
    );
    expect(await db.query('SELECT is_locked FROM knex_migrations_lock')).toEqual([{ is_locked: 0 }]);
  });

  it('`kubectl delete pod` under load through the Service: 0 failed requests', async () => {
    const s = await scenario('delpod');
    const { values } = await s.chartValues({ replicas: 3 });
    await s.release('install', values, ['--wait']);
    const pods = await s.pods(SERVER);
    const load = await s.startModelsLoad();

    const victim = pods[1]!.metadata!.name!;
    const deleted = Date.now();
    expectSuccess('kubectl delete pod', await s.kubectl(['delete', 'pod', victim]));
    const deleteSeconds = (Date.now() - deleted) / 1000;
    await until(
      'three Ready pods again',
      async () => ((await s.pods(SERVER)).filter(ready).length === 3 ? true : undefined),
      180_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const summary = await load.stop();
    expectNoFailedRequests(summary);
    expect(summary.ok).toBeGreaterThan(50);
    recordFigure('delete-pod', {
      replicas: 3,
      kubectlDeleteSeconds: Math.round(deleteSeconds * 10) / 10,
      load: { sent: summary.sent, ok: summary.ok, failed: summary.failed, ratePerSecond: 20 },
    });
  });

  // Issue 19's behaviour: a database outage is not a gateway outage. Known keys keep listing models, readiness
  // stays green (a shared dependency must not empty the Service), /status says `degraded` with the reason, and
  // everything recovers by itself. No container restarts at any point (liveness has no dependencies).
  it('PostgreSQL stopped for 20 s under load: no restart, readiness green, /status degraded, recovery unattended', async () => {
    const s = await scenario('pgdown');
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    const { child: postgres } = await spawnInNode('postgres.mjs', [
      path.join(e2eNode().dir, uniqueName('pg'), 'data'),
      e2eNode().net.serviceHostIp,
      String(port),
      e2eNode().net.podCidr,
    ]);
    s.onCleanup(() => stopChild(postgres));
    const host = await s.externalService('postgres', port);
    const source = await s.modelSource(MODELS);
    const values = e2eValues({
      databaseUrl: `postgres://postgres:postgres@${host}:${port}/postgres`,
      sourceUrl: source.url,
      replicas: 2,
    });
    await s.release('install', values, ['--wait']);
    const pods = await s.pods(SERVER);
    const load = await s.startModelsLoad();
    await new Promise((resolve) => setTimeout(resolve, 3_000));

    const seen = { minReadyEndpoints: Infinity, degraded: new Set<string>(), reasons: new Set<string>() };
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        seen.minReadyEndpoints = Math.min(
          seen.minReadyEndpoints,
          (await s.readyEndpoints('mg-modelgate')).length,
        );
        for (const p of await s.statuses(SERVER)) {
          if (p.body?.status === 'degraded') {
            seen.degraded.add(p.pod);
            for (const reason of p.body.reasons ?? []) seen.reasons.add(String(reason));
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();

    expect(await ask(postgres, 'stop')).toEqual({ stopped: true });
    const stoppedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    await ask(postgres, 'start');
    const startedAt = Date.now();
    const outageSeconds = (startedAt - stoppedAt) / 1000;
    await until(
      'every pod to report ready again',
      async () => {
        const all = await s.statuses(SERVER);
        return all.length === 2 && all.every((p) => p.body?.status === 'ready') ? true : undefined;
      },
      120_000,
      250,
    );
    const recoverySeconds = (Date.now() - startedAt) / 1000;
    watching = false;
    await watcher;
    const summary = await load.stop();

    for (const pod of await s.pods(SERVER)) {
      expect(pod.status?.containerStatuses?.[0]?.restartCount).toBe(0);
      expect(pods.map((p) => p.metadata!.name)).toContain(pod.metadata!.name);
    }
    // Recorded before the assertions, so a run shows the figures whichever of them fails.
    recordFigure('database-outage', {
      replicas: 2,
      outageSeconds: Math.round(outageSeconds * 10) / 10,
      databaseBackToAllReadySeconds: Math.round(recoverySeconds * 10) / 10,
      minReadyEndpoints: seen.minReadyEndpoints,
      podsReportingDegraded: seen.degraded.size,
      load: {
        sent: summary.sent,
        ok: summary.ok,
        failed: summary.failed,
        statuses: summary.statuses,
        ratePerSecond: 20,
      },
    });
    expect(seen.minReadyEndpoints).toBe(2);
    // Issue 19: /status reflects the outage (degraded, naming the database), and known keys keep working.
    expect([...seen.degraded].sort()).toEqual(pods.map((p) => p.metadata!.name!).sort());
    expect([...seen.reasons].join(' ')).toMatch(/database/i);
    expectNoFailedRequests(summary);
  });
});

// Scenario 1, Install: `helm install` in initContainer mode, 3 replicas, a model source that answers after 2 s. The
// kubelet runs the image's init containers and probes; the pods turn Ready only by its readiness probes.
import fs from 'node:fs';
import path from 'node:path';
import { expectSuccess } from '../support/k8s/commands';
import { e2eNode } from './harness/node';
import { recordFigure } from './harness/figures';
import { describeScenario, SERVER } from './harness/scenario';
import { repoRoot } from '../support/tools';

describeScenario(
  'e2e 1, install: 3 pods Ready by the kubelet, one source request, each migration once',
  'install',
  (s) => {
    it('installs with helm, turns 3 pods Ready through the probes, and passes `helm test`', async () => {
      const { db, source, values } = await s.chartValues({
        replicas: 3,
        extra: { tests: { enabled: true } },
      });
      await source.delay(2_000);

      const started = Date.now();
      await s.release('install', values, ['--wait', '--timeout', '5m']);
      const installSeconds = (Date.now() - started) / 1000;

      const pods = await s.pods(SERVER);
      expect(pods).toHaveLength(3);
      for (const pod of pods) {
        // Ready is the kubelet's verdict from the readiness probe on /readyz, after init-all exited 0.
        expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
        const [init] = pod.status?.initContainerStatuses ?? [];
        expect({
          name: init?.name,
          exitCode: init?.state?.terminated?.exitCode,
          restarts: init?.restartCount,
        }).toEqual({ name: 'init-all', exitCode: 0, restarts: 0 });
        const app = pod.status?.containerStatuses?.find((c) => c.name === 'app');
        expect({ ready: app?.ready, started: app?.started, restarts: app?.restartCount }).toEqual({
          ready: true,
          started: true,
          restarts: 0,
        });
        expect(pod.spec?.containers[0]?.readinessProbe?.httpGet?.path).toBe('/readyz');
        expect(pod.status?.podIP).toMatch(/^198\.18\.0\./);
      }

      // Three pods started at once, the source answered slowly: one request, the others waited for its artifact.
      expect(await source.requests()).toBe(1);

      const migrations = fs
        .readdirSync(path.join(repoRoot, 'core', 'db', 'migrations'))
        .filter((f) => f.endsWith('.js'))
        .sort();
      const applied = await db.query<{ name: string; runs: string }>(
        'SELECT name, count(*) AS runs FROM knex_migrations GROUP BY name ORDER BY name',
      );
      expect(applied).toEqual(migrations.map((name) => ({ name, runs: '1' })));

      const endpoints = await s.readyEndpoints('mg-modelgate');
      expect(endpoints.sort()).toEqual(pods.map((p) => p.status!.podIP!).sort());

      // The chart's test pod, run by the kubelet: /readyz through the Service, by its DNS name.
      const test = expectSuccess('helm test', await s.helm(['test', 'mg', '--timeout', '3m']));
      expect(test.stdout).toMatch(/Phase:\s+Succeeded/);

      recordFigure('install', {
        replicas: 3,
        sourceDelayMs: 2_000,
        helmInstallWaitSeconds: Math.round(installSeconds * 10) / 10,
        sourceRequests: 1,
        node: e2eNode().nodeName,
      });
    });
  },
);

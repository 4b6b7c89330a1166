// Issue 7, test 4: `helm install` of the chart (initContainer mode) into the real API server creates every object,
// and `helm upgrade` to job mode renders and applies.
//
// No pods ever run here (no controller-manager, no kubelet), so helm runs without --wait. The job-mode upgrade has
// a pre-upgrade hook Job that helm waits for until it completes; nothing would ever complete it, so the test plays
// the Job controller: it waits for the hook Job, checks what it would run, and marks it complete through the status
// subresource exactly as the controller would. Everything else (hook ordering, before-hook-creation deletes, the
// three-way merge, deletion of objects the new revision no longer renders) is helm and the API server for real.
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { until } from '../support/wait';
import { adminKubeConfig, createNamespace, describeK8s, testCluster } from '../support/k8s/cluster';
import { chartDir, expectSuccess, helmEnv, objectKey, run } from '../support/k8s/commands';
import { collectionPath, installMonitoringCrds, request, responseMessage } from '../support/k8s/rest';
import { parseManifests } from '../support/k8s/cluster';

const scenario = (name: string) => path.join(chartDir, 'ci', `${name}-values.yaml`);
const RELEASE = 'mg';

/** GETs an object back from the server; returns the HTTP status. */
async function fetchObject(kc: k8s.KubeConfig, object: k8s.KubernetesObject, namespace: string) {
  const namespaced = { ...object, metadata: { ...object.metadata, namespace } };
  const collection = await collectionPath(kc, namespaced);
  return request(kc, 'GET', `${collection}/${object.metadata!.name}`);
}

/** Which of `objects` the server does not have, as kind/name. */
async function missingOnServer(kc: k8s.KubeConfig, objects: k8s.KubernetesObject[], namespace: string) {
  const missing: string[] = [];
  for (const object of objects) {
    const response = await fetchObject(kc, object, namespace);
    if (response.status !== 200) missing.push(`${objectKey(object)} (HTTP ${response.status})`);
  }
  return missing;
}

/** Marks a Job complete the way the Job controller does (SuccessCriteriaMet, then Complete). */
async function completeJob(kc: k8s.KubeConfig, namespace: string, name: string): Promise<void> {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const condition = (type: string) => ({
    type,
    status: 'True',
    reason: 'CompletionsReached',
    message: 'Reached expected number of succeeded pods',
    lastProbeTime: now,
    lastTransitionTime: now,
  });
  const response = await request(
    kc,
    'PATCH',
    `/apis/batch/v1/namespaces/${namespace}/jobs/${name}/status`,
    {
      status: {
        startTime: now,
        completionTime: now,
        succeeded: 1,
        active: 0,
        ready: 0,
        terminating: 0,
        uncountedTerminatedPods: {},
        conditions: [condition('SuccessCriteriaMet'), condition('Complete')],
      },
    },
    'application/merge-patch+json',
  );
  if (response.status !== 200) {
    throw new Error(
      `marking Job ${namespace}/${name} complete: HTTP ${response.status}: ${responseMessage(response)}`,
    );
  }
}

describeK8s('helm install and upgrade into the real API server', ['helm'], (tools) => {
  const kc = adminKubeConfig();
  const kubeconfig = testCluster().kubeconfig;
  const helm = (args: string[]) =>
    run(tools.helm, [...args, '--kubeconfig', kubeconfig], { env: helmEnv(), timeoutMs: 150_000 });
  const manifest = async (namespace: string) =>
    parseManifests(
      expectSuccess('helm get manifest', await helm(['get', 'manifest', RELEASE, '--namespace', namespace]))
        .stdout,
    );
  const hooks = async (namespace: string) =>
    parseManifests(
      expectSuccess('helm get hooks', await helm(['get', 'hooks', RELEASE, '--namespace', namespace])).stdout,
    );
  const initArgs = async (namespace: string) => {
    const deployment = await kc
      .makeApiClient(k8s.AppsV1Api)
      .readNamespacedDeployment({ namespace, name: `${RELEASE}-modelgate` });
    return deployment.spec!.template.spec!.initContainers!.map((c) => c.args);
  };

  beforeAll(async () => {
    await installMonitoringCrds(kc);
  });

  /** Runs `helm <verb>` in the background, waits for the hook Job, checks it runs `all`, completes it. */
  async function withHookJob(namespace: string, args: string[]) {
    const command = run(
      tools.helm,
      [...args, '--namespace', namespace, '--kubeconfig', kubeconfig, '--timeout', '2m'],
      {
        env: helmEnv(),
        timeoutMs: 150_000,
      },
    );
    const batch = kc.makeApiClient(k8s.BatchV1Api);
    const jobName = `${RELEASE}-modelgate-init`;
    // A Job not yet complete: a previous release's completed Job stays until helm replaces it.
    const job = await until(
      () =>
        batch
          .readNamespacedJob({ namespace, name: jobName })
          .then((found) => (found.status?.conditions?.some((c) => c.type === 'Complete') ? undefined : found))
          .catch(() => undefined),
      60_000,
      200,
    );
    if (!job) throw new Error(`helm created no hook Job ${jobName}: ${JSON.stringify(await command)}`);
    expect(job.metadata?.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    expect(job.spec!.template.spec!.containers.map((c) => c.args)).toEqual([['all']]);
    await completeJob(kc, namespace, jobName);
    return expectSuccess(`helm ${args[0]}`, await command);
  }

  async function releaseStatus(namespace: string) {
    return JSON.parse(
      expectSuccess('helm status', await helm(['status', RELEASE, '--namespace', namespace, '-o', 'json']))
        .stdout,
    ) as { version: number; info: { status: string } };
  }

  /** The hook objects of the release, without the `helm test` pod (created by `helm test` only). */
  async function hookObjects(namespace: string) {
    return (await hooks(namespace)).filter((o) => o.kind !== 'Pod');
  }

  const initValues = ['--values', scenario('default'), '--values', scenario('monitoring')];
  const jobValues = [...initValues, '--values', scenario('job-mode')];

  describe('initContainer mode, then an upgrade to job mode', () => {
    let namespace: string;
    beforeAll(async () => {
      namespace = await createNamespace('helm');
    });

    it('helm install creates every object of the release', async () => {
      // No hooks in this mode besides `helm test`'s pod, which only `helm test` creates.
      expectSuccess(
        'helm install',
        await helm(['install', RELEASE, chartDir, '--namespace', namespace, '--wait=false', ...initValues]),
      );
      const installed = await manifest(namespace);
      expect(installed.map((o) => o.kind)).toEqual(
        expect.arrayContaining(['Deployment', 'Role', 'RoleBinding', 'ServiceAccount', 'ServiceMonitor']),
      );
      expect(await missingOnServer(kc, installed, namespace)).toEqual([]);
      expect(await initArgs(namespace)).toEqual([['all']]);
    });

    it('helm upgrade to job mode renders and applies (hook Job runs `all`, pods `wait`)', async () => {
      await withHookJob(namespace, ['upgrade', RELEASE, chartDir, ...jobValues]);
      expect(await releaseStatus(namespace)).toMatchObject({ version: 2, info: { status: 'deployed' } });
      expect(await initArgs(namespace)).toEqual([['wait']]);
      expect(await missingOnServer(kc, await manifest(namespace), namespace)).toEqual([]);
    });

    // Regression: in job mode these objects are hooks; on the switch helm used to re-create them as hooks and
    // then delete them as "no longer in the release", leaving the pods without ServiceAccount and Secret.
    it('keeps what the pods need after the switch: init ServiceAccount, Role, RoleBinding, Secret', async () => {
      const hooksNow = await hookObjects(namespace);
      expect(hooksNow.map(objectKey)).toEqual(
        expect.arrayContaining([
          'Job/mg-modelgate-init',
          'Role/mg-modelgate-init',
          'ServiceAccount/mg-modelgate-init',
        ]),
      );
      expect(await missingOnServer(kc, hooksNow, namespace)).toEqual([]);
    });

    it('helm upgrade back to initContainer mode adopts the former hook objects', async () => {
      expectSuccess(
        'helm upgrade',
        await helm(['upgrade', RELEASE, chartDir, '--namespace', namespace, '--wait=false', ...initValues]),
      );
      expect(await releaseStatus(namespace)).toMatchObject({ version: 3, info: { status: 'deployed' } });
      expect(await initArgs(namespace)).toEqual([['all']]);
      expect(await missingOnServer(kc, await manifest(namespace), namespace)).toEqual([]);
    });
  });

  it('installs directly in job mode, then upgrades in job mode: hooks first, every object present', async () => {
    const namespace = await createNamespace('helm-job');
    await withHookJob(namespace, ['install', RELEASE, chartDir, ...jobValues]);
    expect(await releaseStatus(namespace)).toMatchObject({ version: 1, info: { status: 'deployed' } });
    expect(await initArgs(namespace)).toEqual([['wait']]);
    expect(await missingOnServer(kc, await manifest(namespace), namespace)).toEqual([]);
    expect(await missingOnServer(kc, await hookObjects(namespace), namespace)).toEqual([]);

    // The next release: the completed Job of revision 1 is replaced (before-hook-creation) by a new one.
    const firstJob = await kc
      .makeApiClient(k8s.BatchV1Api)
      .readNamespacedJob({ namespace, name: `${RELEASE}-modelgate-init` });
    await withHookJob(namespace, ['upgrade', RELEASE, chartDir, ...jobValues, '--set', 'replicaCount=3']);
    const secondJob = await kc
      .makeApiClient(k8s.BatchV1Api)
      .readNamespacedJob({ namespace, name: `${RELEASE}-modelgate-init` });
    expect(secondJob.metadata?.uid).not.toBe(firstJob.metadata?.uid);
    expect(await releaseStatus(namespace)).toMatchObject({ version: 2, info: { status: 'deployed' } });
    expect(await missingOnServer(kc, await manifest(namespace), namespace)).toEqual([]);
    expect(await missingOnServer(kc, await hookObjects(namespace), namespace)).toEqual([]);
  });
});

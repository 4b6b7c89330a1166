// The test control plane itself: a real kube-apiserver with token auth, RBAC and TokenRequest, and a supervisor
// that leaves no etcd or kube-apiserver behind, even when jest is killed outright.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import readline from 'node:readline';
import * as k8s from '@kubernetes/client-node';
import { until } from '../support/wait';
import {
  adminKubeConfig,
  apiStatus,
  createNamespace,
  createServiceAccount,
  describeK8s,
  issueServiceAccountToken,
  kubeConfigFromFile,
  testCluster,
  writeTokenKubeconfig,
} from '../support/k8s/cluster';
import { alive } from '../support/watchdog.mjs';

interface SupervisorInfo {
  kubeconfig: string;
  dir: string;
  etcdPid: number;
  apiserverPid: number;
}

function startSupervisor(parentPid: number): Promise<{ supervisor: ChildProcess; info: SupervisorInfo }> {
  const supervisor = spawn(
    process.execPath,
    [path.join(__dirname, '..', 'support', 'k8s', 'apiserver-supervisor.mjs'), String(parentPid)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    readline
      .createInterface({ input: supervisor.stdout! })
      .once('line', (line) => resolve({ supervisor, info: JSON.parse(line) as SupervisorInfo }));
    supervisor.once('exit', (code) => reject(new Error(`supervisor exited ${code}`)));
  });
}

function anonymousStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca: fs.readFileSync(testCluster().caFile) }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

describeK8s('test control plane (real etcd + kube-apiserver)', [], () => {
  it('serves Kubernetes v1.34 with the admin kubeconfig and rejects anonymous requests', async () => {
    const version = await adminKubeConfig().makeApiClient(k8s.VersionApi).getCode();
    expect(version.gitVersion).toMatch(/^v1\.34\.\d+$/);
    expect([401, 403]).toContain(await anonymousStatus(`${testCluster().server}/api/v1/namespaces`));
  });

  it('issues ServiceAccount tokens (TokenRequest) that authenticate as the ServiceAccount and meet RBAC', async () => {
    const namespace = await createNamespace('cp');
    await createServiceAccount(namespace, 'nobody');
    const token = await issueServiceAccountToken(namespace, 'nobody');
    const kc = kubeConfigFromFile(writeTokenKubeconfig(token, namespace));

    const review = await kc.makeApiClient(k8s.AuthenticationV1Api).createSelfSubjectReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    expect(review.status?.userInfo?.username).toBe(`system:serviceaccount:${namespace}:nobody`);

    // RBAC is really enforced: a ServiceAccount without bindings may not even list ConfigMaps.
    const denied = await kc
      .makeApiClient(k8s.CoreV1Api)
      .listNamespacedConfigMap({ namespace })
      .then(
        () => 'allowed',
        (error: unknown) => apiStatus(error),
      );
    expect(denied).toBe(403);
  });

  it('stops etcd and kube-apiserver when jest dies by SIGKILL, and reaps what a SIGKILLed supervisor left', async () => {
    // Stand-ins for jest processes: each starts a supervisor exactly as global-setup does.
    const fakeJests = [1, 2].map(() =>
      spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }),
    );
    const supervisors: ChildProcess[] = [];
    try {
      // 1. The supervisor itself is SIGKILLed: its servers survive it, nothing can stop them right then...
      const first = await startSupervisor(fakeJests[0]!.pid!);
      supervisors.push(first.supervisor);
      first.supervisor.kill('SIGKILL');
      await until(() => first.supervisor.exitCode !== null || first.supervisor.signalCode !== null, 5_000);
      expect(alive(first.info.apiserverPid)).toBe(true);

      // ...so the next supervisor reaps them before it starts its own.
      const second = await startSupervisor(fakeJests[1]!.pid!);
      supervisors.push(second.supervisor);
      expect(await until(() => !alive(first.info.apiserverPid), 10_000)).toBe(true);
      expect(await until(() => !alive(first.info.etcdPid), 10_000)).toBe(true);
      expect(fs.existsSync(first.info.dir)).toBe(false);

      // 2. jest is SIGKILLed: the supervisor notices its parent is gone and stops both servers.
      expect(alive(second.info.apiserverPid)).toBe(true);
      fakeJests[1]!.kill('SIGKILL');
      expect(await until(() => !alive(second.info.apiserverPid), 20_000)).toBe(true);
      expect(await until(() => !alive(second.info.etcdPid), 20_000)).toBe(true);
      expect(await until(() => second.supervisor.exitCode !== null, 5_000)).toBe(true);
      expect(fs.existsSync(second.info.dir)).toBe(false);
    } finally {
      // Killing the stand-ins stops any supervisor still running (and so its servers).
      for (const child of fakeJests) child.kill('SIGKILL');
      await Promise.all(
        supervisors.map((child) => until(() => child.exitCode !== null || child.signalCode !== null, 20_000)),
      );
    }
  });
});

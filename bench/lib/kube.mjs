// @ts-check
// The cluster-wide artifact cache as in production: a ConfigMap on a real kube-apiserver (+ etcd), started by the
// k8s test harness' supervisor (binaries from scripts/tools/provision-k8s.sh). modelgate-init talks to it through
// KUBECONFIG exactly as it talks to a cluster's API server.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import * as k8s from '@kubernetes/client-node';
import { log, repoRoot } from './common.mjs';

export const NAMESPACE = 'bench';

/**
 * @typedef {{ kubeconfig: string, createConfigMap: (name: string) => Promise<string>,
 *   readData: (name: string) => Promise<Record<string, string>>,
 *   writeData: (name: string, data: Record<string, string>) => Promise<void>, stop: () => Promise<void> }} BenchCluster
 */

export function controlPlaneMissing() {
  const bin = process.env.TOOLS_DIR
    ? path.join(process.env.TOOLS_DIR, 'bin')
    : path.join(repoRoot, '.tools', 'bin');
  const missing = ['etcd', 'kube-apiserver'].filter((name) => !fs.existsSync(path.join(bin, name)));
  return missing.length > 0
    ? `${missing.join(' and ')} missing in ${bin} (run scripts/tools/provision-k8s.sh)`
    : undefined;
}

/** @returns {Promise<BenchCluster>} */
export async function startCluster() {
  const missing = controlPlaneMissing();
  if (missing) throw new Error(`the storm needs a real kube-apiserver for the ConfigMap cache: ${missing}`);
  const supervisor = spawn(
    process.execPath,
    [path.join(repoRoot, 'test', 'support', 'k8s', 'apiserver-supervisor.mjs'), String(process.pid)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  /** @type {{ kubeconfig: string, server: string }} */
  const info = await new Promise((resolve, reject) => {
    const lines = readline.createInterface({
      input: /** @type {import('node:stream').Readable} */ (supervisor.stdout),
    });
    lines.once('line', (line) => resolve(JSON.parse(line)));
    supervisor.once('exit', (code) => reject(new Error(`the kube-apiserver supervisor exited with ${code}`)));
  });
  log(`kube-apiserver at ${info.server}`);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(info.kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
  return {
    kubeconfig: info.kubeconfig,
    /** Pre-creates an empty ConfigMap, as the chart does; returns `namespace/name` for MODELS_CONFIGMAP. */
    async createConfigMap(name) {
      await core.createNamespacedConfigMap({ namespace: NAMESPACE, body: { metadata: { name }, data: {} } });
      return `${NAMESPACE}/${name}`;
    },
    async readData(name) {
      const configMap = await core.readNamespacedConfigMap({ namespace: NAMESPACE, name });
      return configMap.data ?? {};
    },
    async writeData(name, data) {
      const configMap = await core.readNamespacedConfigMap({ namespace: NAMESPACE, name });
      await core.replaceNamespacedConfigMap({ namespace: NAMESPACE, name, body: { ...configMap, data } });
    },
    async stop() {
      if (supervisor.exitCode !== null || supervisor.signalCode !== null) return;
      const exited = new Promise((resolve) => supervisor.once('exit', resolve));
      supervisor.kill('SIGTERM');
      await exited;
    },
  };
}

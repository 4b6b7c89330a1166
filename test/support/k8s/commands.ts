// Runs the repo's tools (helm, kustomize) and binaries as real child processes.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseManifests } from './cluster';
import { tempDir } from '../temp.mjs';

// test/support/k8s -> repo root
export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const chartDir = path.join(repoRoot, 'helm', 'modelgate');
export const kustomizeBaseDir = path.join(repoRoot, 'k8s');

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion and collects its output; never rejects for a non-zero exit (callers assert). */
export function run(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? repoRoot,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Throws with the command's output unless it exited 0. */
export function expectSuccess(what: string, result: CommandResult): CommandResult {
  if (result.code !== 0) {
    throw new Error(
      `${what} exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`,
    );
  }
  return result;
}

let helmHome: string | undefined;
/** helm with its config, cache and data in a temp dir (nothing read from or written to the user's ~/.config/helm). */
export function helmEnv(): NodeJS.ProcessEnv {
  helmHome ??= tempDir('test-helm');
  return {
    ...process.env,
    HELM_CONFIG_HOME: path.join(helmHome, 'config'),
    HELM_CACHE_HOME: path.join(helmHome, 'cache'),
    HELM_DATA_HOME: path.join(helmHome, 'data'),
    KUBECONFIG: '/nonexistent/kubeconfig-pass-it-explicitly',
  };
}

/** The chart's CI scenarios (helm/modelgate/ci/*-values.yaml), as absolute paths. */
export function chartScenarios(): string[] {
  const dir = path.join(chartDir, 'ci');
  return fs
    .readdirSync(dir)
    .filter((file) => file.endsWith('-values.yaml'))
    .sort()
    .map((file) => path.join(dir, file));
}

/** `helm template` of the chart (hooks and tests included) into `namespace`, parsed into objects. */
export async function renderChart(
  helm: string,
  options: { release: string; namespace: string; valuesFiles?: string[]; set?: string[] },
): Promise<KubernetesObject[]> {
  const args = ['template', options.release, chartDir, '--namespace', options.namespace];
  for (const file of options.valuesFiles ?? []) args.push('--values', file);
  for (const value of options.set ?? []) args.push('--set', value);
  const result = expectSuccess(`helm ${args.join(' ')}`, await run(helm, args, { env: helmEnv() }));
  return parseManifests(result.stdout);
}

/** `kustomize build` of a directory, parsed into objects. */
export async function kustomizeBuild(kustomize: string, dir: string): Promise<KubernetesObject[]> {
  const result = expectSuccess(`kustomize build ${dir}`, await run(kustomize, ['build', dir]));
  return parseManifests(result.stdout);
}

/**
 * A kustomize overlay in a temp dir on top of k8s/, setting the namespace, as users are told to write one.
 * Returns the overlay directory.
 */
export function writeNamespaceOverlay(namespace: string): string {
  const dir = tempDir('test-overlay');
  const base = path.relative(dir, kustomizeBaseDir);
  fs.writeFileSync(
    path.join(dir, 'kustomization.yaml'),
    [
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      `namespace: ${namespace}`,
      'resources:',
      `  - ${base}`,
      '',
    ].join('\n'),
  );
  return dir;
}

/** `kind/name` of an object, for messages and lookups. */
export function objectKey(object: KubernetesObject): string {
  return `${object.kind}/${object.metadata?.name ?? '?'}`;
}

import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../tools';
import { tempDir } from '../temp.mjs';

const run = promisify(execFile);

export const chartDir = path.join(repoRoot, 'helm', 'modelgate');
export const kustomizeDir = path.join(repoRoot, 'k8s');

/** A rendered Kubernetes object (loosely typed: tests look into it). */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
};

/** The chart's CI scenarios: helm/modelgate/ci/<name>-values.yaml. */
export function ciScenarios(): string[] {
  return readdirSync(path.join(chartDir, 'ci'))
    .filter((f) => f.endsWith('-values.yaml'))
    .map((f) => f.slice(0, -'-values.yaml'.length))
    .sort();
}

export function scenarioFile(name: string): string {
  return path.join(chartDir, 'ci', `${name}-values.yaml`);
}

/**
 * Parses a multi-document manifest stream like kubectl does (YAML 1.1: `0444` is octal), dropping empty documents.
 */
export function parseManifests(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text, { version: '1.1' })) {
    if (doc.errors.length > 0)
      throw new Error(`invalid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS({ maxAliasCount: 100 }) as K8sObject | null;
    if (value !== null && value !== undefined) objects.push(value);
  }
  return objects;
}

let helmHome: string | undefined;
/** helm keeps caches and repositories in these; a throw-away home keeps tests away from the user's. */
function helmEnv(): NodeJS.ProcessEnv {
  helmHome ??= tempDir('helm');
  return {
    ...process.env,
    HELM_CACHE_HOME: path.join(helmHome, 'cache'),
    HELM_CONFIG_HOME: path.join(helmHome, 'config'),
    HELM_DATA_HOME: path.join(helmHome, 'data'),
  };
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function helm(helmPath: string, args: readonly string[]): Promise<HelmResult> {
  try {
    const { stdout, stderr } = await run(helmPath, [...args], {
      env: helmEnv(),
      cwd: repoRoot,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === 'number' ? e.code : 1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? String(error),
    };
  }
}

export interface TemplateOptions {
  valuesFiles?: readonly string[];
  set?: Readonly<Record<string, string>>;
  releaseName?: string;
  namespace?: string;
  /** Also render templates/tests (helm's --show-only cannot, so helm template includes hooks by default). */
  extraArgs?: readonly string[];
}

/** `helm template` of the chart; throws with helm's message when it fails. */
export async function helmTemplate(helmPath: string, options: TemplateOptions = {}): Promise<K8sObject[]> {
  const result = await helm(helmPath, templateArgs(options));
  if (result.code !== 0) throw new Error(`helm template failed (${result.code}): ${result.stderr}`);
  return parseManifests(result.stdout);
}

export function templateArgs(options: TemplateOptions = {}): string[] {
  const args = [
    'template',
    options.releaseName ?? 'mg',
    chartDir,
    '--namespace',
    options.namespace ?? 'prod',
  ];
  for (const file of options.valuesFiles ?? []) args.push('--values', file);
  for (const [key, value] of Object.entries(options.set ?? {})) args.push('--set-string', `${key}=${value}`);
  args.push(...(options.extraArgs ?? []));
  return args;
}

/** `kustomize build` (what `kubectl kustomize` runs). */
export async function kustomizeBuild(kustomizePath: string, dir = kustomizeDir): Promise<K8sObject[]> {
  const { stdout } = await run(kustomizePath, ['build', dir], { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024 });
  return parseManifests(stdout);
}

export function byKind(objects: readonly K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

export function one(objects: readonly K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) {
    throw new Error(
      `expected exactly one ${kind}${name ? ` named ${name}` : ''}, found ${found.length}: ` +
        objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', '),
    );
  }
  return found[0]!;
}

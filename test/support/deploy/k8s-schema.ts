import { spawn } from 'node:child_process';
import path from 'node:path';
import type { K8sObject } from './render';

export interface SchemaReport {
  /** kind/name */
  ref: string;
  /** Schema violations and unknown fields; empty when the object is valid. */
  errors: string[];
}

const script = path.join(__dirname, 'k8s-validate.mjs');

/**
 * Validates objects against the Kubernetes schemas (types, required fields, enums, formats) and reports unknown
 * fields, in a child process (see k8s-validate.mjs for why and how).
 */
export async function validateK8s(objects: readonly unknown[]): Promise<SchemaReport[]> {
  const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  child.stdin.end(JSON.stringify(objects));
  const code = await exited;
  if (code !== 0) throw new Error(`k8s-validate.mjs exited ${code}: ${stderr}`);
  return JSON.parse(stdout) as SchemaReport[];
}

/** One line per problem: `Deployment/x: unknown field /spec/replcas`. */
export function schemaProblems(reports: readonly SchemaReport[]): string[] {
  return reports.flatMap((r) => r.errors.map((e) => `${r.ref}: ${e}`));
}

export type { K8sObject };

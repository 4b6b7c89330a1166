import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { InitReport } from '../../../core/artifact/report';

export const INIT_BIN = path.join(__dirname, '..', '..', '..', 'dist', 'bin', 'modelgate-init.js');

export interface InitRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON log lines (non-JSON lines skipped). */
  lines: Record<string, unknown>[];
}

/** A clean environment: only what the test gives, so the developer's shell never leaks in (proxies, KUBECONFIG). */
export function initEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, LOG_LEVEL: 'info', ...env };
}

export function parseLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // a partial line from a killed process
    }
  }
  return out;
}

export interface StartedInit {
  child: ChildProcess;
  /** Resolves with the first log line matching, or rejects when the process exits first. */
  waitForLine(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  done: Promise<InitRun>;
}

export function startInit(args: readonly string[], env: Record<string, string | undefined>): StartedInit {
  const child = spawn(process.execPath, [INIT_BIN, ...args], {
    env: initEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const listener of listeners) listener();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<InitRun>((resolve) => {
    child.on('close', (code, signal) => {
      for (const listener of listeners) listener();
      resolve({ code, signal, stdout, stderr, lines: parseLines(stdout) });
    });
  });
  let exited = false;
  void done.then(() => (exited = true));
  return {
    child,
    done,
    waitForLine: (match, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(
            new Error(
              `no matching log line within ${timeoutMs} ms; stdout so far:\n${stdout}\nstderr:\n${stderr}`,
            ),
          );
        }, timeoutMs);
        function check() {
          const found = parseLines(stdout).find(match);
          if (found) {
            clearTimeout(timer);
            listeners.delete(check);
            resolve(found);
          } else if (exited || child.exitCode !== null) {
            clearTimeout(timer);
            listeners.delete(check);
            reject(
              new Error(
                `modelgate-init exited before the expected line; stdout:\n${stdout}\nstderr:\n${stderr}`,
              ),
            );
          }
        }
        listeners.add(check);
        check();
      }),
  };
}

export function runInit(args: readonly string[], env: Record<string, string | undefined>): Promise<InitRun> {
  return startInit(args, env).done;
}

/** The summary (the init report) from a run's last log line. */
export function summaryOf(run: InitRun): InitReport {
  const line = [...run.lines].reverse().find((l) => l.summary !== undefined);
  if (!line) throw new Error(`no summary line; stdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  return line.summary as InitReport;
}

// @ts-check
// What the benchmarks ran on, and how busy the machine was: recorded at the start and the end of a run.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

export function describeMachine() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpus: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    loadAverage: os.loadavg().map((v) => Math.round(v * 100) / 100),
    /** Processes on the machine that are not ours (a busy, shared machine shows here). */
    processes: fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name)).length,
    at: new Date().toISOString(),
  };
}

/**
 * Which code was measured: the commit of the build's package root, and whether its app/, init/ or core/ had
 * uncommitted changes.
 * @param {string} root
 */
export function describeBuild(root) {
  const git = (/** @type {string[]} */ args) => {
    try {
      return execFileSync('git', ['-C', root, ...args], { encoding: 'utf8' }).trim();
    } catch {
      return undefined;
    }
  };
  const commit = git(['rev-parse', 'HEAD']);
  if (commit === undefined && process.env.BENCH_BUILD_COMMIT) {
    // A build of `git archive <commit>` output: exactly that commit.
    return { root, commit: process.env.BENCH_BUILD_COMMIT, uncommittedChanges: false };
  }
  const dirty = git(['status', '--porcelain', '--', 'app', 'init', 'core']);
  return {
    root,
    commit: commit ?? 'unknown (not a git checkout)',
    uncommittedChanges: dirty === undefined ? null : dirty !== '',
  };
}

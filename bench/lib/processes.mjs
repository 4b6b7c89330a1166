// @ts-check
// Child processes the benchmarks start: output captured, exit awaited, and every one of them stopped at the end.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { now, sleep } from './common.mjs';

/**
 * @typedef {{ pid: number, name: string, startedAt: number, output: () => string, exited: Promise<{ code: number | null,
 *   signal: string | null, at: number }>, done: boolean, kill: (signal?: NodeJS.Signals) => void }} Child
 */

/** Every child still running; stopAll() ends them (SIGKILL) so an interrupted run leaves nothing behind. */
const running = new Set();

const MAX_OUTPUT = 256 * 1024;

/**
 * @param {string} name a label for logs
 * @param {string[]} args node arguments
 * @param {NodeJS.ProcessEnv} env the whole environment of the child (nothing is inherited implicitly)
 * @returns {Child}
 */
export function spawnNode(name, args, env) {
  const startedAt = now();
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const append = (/** @type {Buffer} */ chunk) => {
    if (output.length < MAX_OUTPUT) output += chunk.toString('utf8');
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  /** @type {Child} */
  const handle = {
    pid: child.pid ?? -1,
    name,
    startedAt,
    output: () => output,
    done: false,
    exited: new Promise((resolve) => {
      child.on('close', (code, signal) => {
        handle.done = true;
        running.delete(handle);
        resolve({ code, signal, at: now() });
      });
    }),
    kill: (signal = 'SIGKILL') => {
      if (!handle.done) child.kill(signal);
    },
  };
  running.add(handle);
  return handle;
}

export async function stopAll() {
  const children = [...running];
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(children.map((child) => child.exited));
}

/** @type {http.Agent} no keep-alive: a probe is one short connection, like the kubelet's */
const probeAgent = new http.Agent({ keepAlive: false });

/**
 * One HTTP GET; resolves with the status (0 when the connection failed or timed out) and the body text.
 * @param {string} url @param {{ timeoutMs?: number, headers?: Record<string, string> }} [options]
 * @returns {Promise<{ status: number, body: string }>}
 */
export function httpGet(url, options = {}) {
  return new Promise((resolve) => {
    const req = http.get(
      url,
      { agent: probeAgent, timeout: options.timeoutMs ?? 1000, headers: options.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', () => resolve({ status: 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

/**
 * Polls GET url until it answers 200, the child exits, or the deadline passes.
 * @param {string} url @param {{ deadline: number, intervalMs?: number, child?: Child }} options
 * @returns {Promise<number | undefined>} the monotonic time of the first 200, or undefined
 */
export async function waitFor200(url, options) {
  const interval = options.intervalMs ?? 100;
  while (now() < options.deadline) {
    if (options.child?.done) return undefined;
    const { status } = await httpGet(url, { timeoutMs: 1000 });
    if (status === 200) return now();
    await sleep(interval);
  }
  return undefined;
}

/** @param {number} pid @returns {number} CPU seconds used so far by a running process (0 when it is gone) */
export function cpuSecondsOf(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime (fields 14 and 15 of proc(5)), in clock ticks of 1/100 s
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds the whole machine has spent busy since boot (user, nice, system, irq, softirq of /proc/stat's "cpu"
 * line): the difference over a storm covers PostgreSQL, the API server and the harness as well as the pods.
 * @returns {number}
 */
export function machineBusySeconds() {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = line
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    // clock ticks of 1/100 s
    return (user + nice + system + irq + softirq) / 100;
  } catch {
    return 0;
  }
}

/** @param {number} pid @returns {number | undefined} resident set size in bytes, from /proc */
export function rssOf(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

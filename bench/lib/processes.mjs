// @ts-check
// Child processes the benchmarks start: output captured, exit awaited, and every one of them stopped at the end.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { log, now, sleep } from './common.mjs';

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
  return spawnProcess(name, process.execPath, args, env);
}

/**
 * Any executable, stopped by stopAll() like the Node.js ones. With `logFile`, its stdout and stderr go to that file
 * instead of a pipe: a server logging every request under load then costs the harness (the load generator's
 * process) nothing, and output() reads the file's last MAX_OUTPUT bytes.
 * @param {string} name @param {string} command @param {string[]} args @param {NodeJS.ProcessEnv} env
 * @param {{ logFile?: string, cwd?: string }} [options]
 * @returns {Child}
 */
export function spawnProcess(name, command, args, env, options = {}) {
  const startedAt = now();
  const fd = options.logFile ? fs.openSync(options.logFile, 'a') : undefined;
  const child = spawn(command, args, {
    env,
    cwd: options.cwd,
    stdio: fd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', fd, fd],
  });
  if (fd !== undefined) fs.closeSync(fd);
  let output = '';
  const append = (/** @type {Buffer} */ chunk) => {
    if (output.length < MAX_OUTPUT) output += chunk.toString('utf8');
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const logFile = options.logFile;
  /** @type {Child} */
  const handle = {
    pid: child.pid ?? -1,
    name,
    startedAt,
    output: () => (logFile ? tailOf(logFile, MAX_OUTPUT) : output),
    done: false,
    exited: new Promise((resolve) => {
      child.on('error', (error) => {
        output += `\n${name}: ${error.message}\n`;
      });
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

/** @param {string} file @param {number} bytes @returns {string} the file's last `bytes` bytes as text */
function tailOf(file, bytes) {
  try {
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r');
    try {
      const length = Math.min(size, bytes);
      const buffer = Buffer.alloc(length);
      fs.readSync(fd, buffer, 0, length, size - length);
      return buffer.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

export async function stopAll() {
  const children = [...running];
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(children.map((child) => child.exited));
}

/**
 * Ctrl-C (SIGINT) or SIGTERM while a benchmark runs: every child it started is stopped, then `cleanup` runs (its
 * PostgreSQL, servers, scratch files), then the exit, 130 or 143. (A SIGKILL of the benchmark cannot be caught and
 * leaves its children behind.)
 * @param {() => Promise<unknown>} [cleanup]
 */
export function stopOnInterrupt(cleanup = async () => undefined) {
  for (const [signal, code] of /** @type {const} */ ([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ]))
    process.once(signal, () => {
      log(`${signal}: stopping every process this benchmark started`);
      stopAll()
        .then(cleanup)
        .finally(() => process.exit(code));
    });
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
 * CPU seconds used so far by a process and every descendant still running (a server that forks workers, like
 * LiteLLM's uvicorn), read from /proc.
 * @param {number} pid @returns {number}
 */
export function treeCpuSeconds(pid) {
  /** @type {Map<number, number[]>} */
  const children = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(name)]);
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  const pending = [pid];
  while (pending.length > 0) {
    const next = /** @type {number} */ (pending.pop());
    total += cpuSecondsOf(next);
    pending.push(...(children.get(next) ?? []));
  }
  return total;
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

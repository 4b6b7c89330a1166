// @ts-check
// What the benchmarks ran on, and how busy the machine was: recorded at the start and the end of a run.
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

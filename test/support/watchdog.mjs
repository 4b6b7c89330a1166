// @ts-check
// What a supervisor (the test PostgreSQL, the test control plane, `npm start`) needs to leave nothing running: it
// stops what it started when the process it serves dies, even by SIGKILL (nothing tells it, so it polls), and it
// reaps what an earlier supervisor killed outright (which could not clean up) left behind.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** @param {number | undefined} pid @returns {boolean} whether a process with this pid exists */
export function alive(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** @param {number} pid @returns {string} the process' command line ('' when gone) */
export function cmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/**
 * Calls `onGone` once, at most `intervalMs` after process `parentPid` is gone.
 * @param {number} parentPid @param {() => void} onGone @param {number} [intervalMs]
 */
export function watchParent(parentPid, onGone, intervalMs = 250) {
  const timer = setInterval(() => {
    if (alive(parentPid)) return;
    clearInterval(timer);
    onGone();
  }, intervalMs);
}

/**
 * @typedef {{ supervisorPid: number, dir: string, [key: string]: unknown }} SupervisorState what a supervisor
 *   started: `dir` is its scratch directory, removed when it is reaped
 */

/**
 * The state files of one kind of supervisor, `<tmp>/<name>/<pid>.json`.
 * @param {string} name
 * @param {{ running: (state: SupervisorState) => boolean, reap: (state: SupervisorState) => void }} how `running`
 *   tells a live supervisor's state from an abandoned one; `reap` stops what an abandoned one left running
 */
export function supervisorStates(name, how) {
  const stateDir = path.join(os.tmpdir(), name);
  fs.mkdirSync(stateDir, { recursive: true });
  const own = path.join(stateDir, `${process.pid}.json`);
  return {
    /** Reaps the state of every supervisor that is gone. */
    reapAbandoned() {
      for (const file of fs.readdirSync(stateDir)) {
        if (!file.endsWith('.json')) continue;
        const stateFile = path.join(stateDir, file);
        try {
          const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
          if (how.running(state)) continue;
          how.reap(state);
          fs.rmSync(state.dir, { recursive: true, force: true });
          fs.rmSync(stateFile, { force: true });
        } catch {
          // half written, or another supervisor is reaping it: leave it
        }
      }
    },
    /** @param {{ dir: string, [key: string]: unknown }} state this process' state */
    write(state) {
      fs.writeFileSync(own, JSON.stringify({ supervisorPid: process.pid, ...state }));
    },
    remove() {
      fs.rmSync(own, { force: true });
    },
  };
}

// @ts-check
// Owns the test PostgreSQL for one jest run. Started by global-setup; stops postgres when told to (SIGTERM,
// SIGINT) or when the process that started it dies, even by SIGKILL, so no postgres outlives a test run.
// Prints one JSON line `{"url": ..., "postmasterPid": ...}` on stdout once postgres accepts connections.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from './embedded-postgres.mjs';

const parentPid = Number(process.argv[2]);
const stateDir = path.join(os.tmpdir(), 'modelgate-test-pg');
fs.mkdirSync(stateDir, { recursive: true });

/** @param {number} pid */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A previous supervisor killed with SIGKILL cannot clean up after itself: reap what it left. */
function reapAbandoned() {
  for (const file of fs.readdirSync(stateDir)) {
    if (!file.endsWith('.json')) continue;
    const stateFile = path.join(stateDir, file);
    try {
      const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
      if (alive(state.supervisorPid)) continue;
      if (state.postmasterPid && alive(state.postmasterPid)) process.kill(state.postmasterPid, 'SIGQUIT');
      fs.rmSync(state.dir, { recursive: true, force: true });
      fs.rmSync(stateFile, { force: true });
    } catch {
      // another supervisor is reaping it, or it is half written: leave it
    }
  }
}

reapAbandoned();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelgate-test-pg-data-'));
const stateFile = path.join(stateDir, `${process.pid}.json`);
const pg = await startEmbeddedPostgres({ dir });
fs.writeFileSync(
  stateFile,
  JSON.stringify({ supervisorPid: process.pid, postmasterPid: pg.postmasterPid, dir }),
);

// embedded-postgres stops the server on SIGTERM/SIGINT itself (async-exit-hook) and exits; clean up whatever
// path ends the process.
process.on('exit', () => {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(stateFile, { force: true });
});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  try {
    await pg.stop();
  } finally {
    process.exit(0);
  }
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('SIGHUP', stop);
setInterval(() => {
  if (!alive(parentPid)) void stop();
}, 250);
process.stdout.write(`${JSON.stringify({ url: pg.url, postmasterPid: pg.postmasterPid })}\n`);

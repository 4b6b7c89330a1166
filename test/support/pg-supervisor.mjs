// @ts-check
// Owns the test PostgreSQL for one jest run. Started by global-setup; stops postgres when told to (SIGTERM,
// SIGINT) or when the process that started it dies, even by SIGKILL, so no postgres outlives a test run.
// Prints one JSON line `{"url": ..., "postmasterPid": ...}` on stdout once postgres accepts connections.
// `pg-supervisor.mjs <parentPid> [dataDir port]`: with a data directory and port (a test that stops and restarts
// its own PostgreSQL, own-postgres.ts), the directory is kept when postgres stops, so the next supervisor starts
// the same cluster on the same port.
import fs from 'node:fs';
import { startEmbeddedPostgres } from './embedded-postgres.mjs';
import { tempDir } from './temp.mjs';
import { alive, supervisorStates, watchParent } from './watchdog.mjs';

const parentPid = Number(process.argv[2]);
const keptDir = process.argv[3];
const keptPort = process.argv[4] ? Number(process.argv[4]) : undefined;
const states = supervisorStates('modelgate-test-pg', {
  running: (state) => alive(state.supervisorPid),
  reap: (state) => {
    const postmasterPid = Number(state.postmasterPid);
    if (alive(postmasterPid)) process.kill(postmasterPid, 'SIGQUIT');
  },
});

states.reapAbandoned();
const dir = keptDir ?? tempDir('test-pg-data');
const pg = await startEmbeddedPostgres({ dir, port: keptPort, persistent: keptDir !== undefined });
states.write({ postmasterPid: pg.postmasterPid, dir });

// embedded-postgres stops the server on SIGTERM/SIGINT itself (async-exit-hook) and exits; clean up whatever
// path ends the process.
process.on('exit', () => {
  if (!keptDir) fs.rmSync(dir, { recursive: true, force: true });
  states.remove();
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
watchParent(parentPid, () => void stop());
process.stdout.write(`${JSON.stringify({ url: pg.url, postmasterPid: pg.postmasterPid })}\n`);

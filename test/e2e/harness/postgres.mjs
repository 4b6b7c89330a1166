// @ts-check
// A real PostgreSQL inside the e2e node's network namespace, standing for a database outside the cluster: it
// listens on the namespace's service address (not on loopback, which pods cannot reach) and admits password logins
// from the pod network. Pods reach it through a Service whose EndpointSlice names that address.
//
// Usage (inside the namespace): node postgres.mjs <data dir> <listen address> <port> <allowed CIDR>
// Prints one JSON line `{"url", "postmasterPid"}` once it accepts connections. With an IPC channel, the messages
// 'stop' and 'start' stop and start the same server (a database outage), answered with {stopped} / {started}.
// Stops on SIGTERM/SIGINT.
import { startEmbeddedPostgres } from '../../support/embedded-postgres.mjs';

const [dir, listen, portText, allow] = process.argv.slice(2);
if (!dir || !listen || !portText || !allow) {
  console.error('usage: postgres.mjs <data dir> <listen address> <port> <allowed CIDR>');
  process.exit(2);
}
// The Unix socket in the data directory: several of these servers (one per namespace) may use the same port number.
const options = {
  dir,
  listen,
  port: Number(portText),
  allowNetworks: [allow],
  socketDir: dir,
  persistent: true,
};

/** @type {Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined} */
let pg = await startEmbeddedPostgres(options);
process.stdout.write(`${JSON.stringify({ url: pg.url, postmasterPid: pg.postmasterPid })}\n`);

process.on('message', async (/** @type {unknown} */ message) => {
  if (message === 'stop' && pg) {
    await pg.stop();
    pg = undefined;
    process.send?.({ stopped: true });
  } else if (message === 'start' && !pg) {
    pg = await startEmbeddedPostgres(options);
    process.send?.({ started: true, postmasterPid: pg.postmasterPid });
  }
});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  try {
    await pg?.stop();
  } finally {
    process.exit(0);
  }
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);

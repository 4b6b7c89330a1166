// @ts-check
// Runs inside the e2e node's network namespace. The host side of the tests reaches addresses in that namespace
// (the API server, PostgreSQL, pod IPs) only through this relay, never by routing: the host has no route into the
// namespace, so nothing the tests send can leave the machine. A client connects to the Unix socket (path-named
// Unix sockets are not bound to a network namespace), writes `<ip>:<port>\n`, and from then on the connection is
// a plain TCP connection to that address inside the namespace.
//
// Usage (inside the namespace): node relay.mjs <socket path>
import fs from 'node:fs';
import net from 'node:net';

const socketPath = process.argv[2];
if (!socketPath) {
  console.error('usage: relay.mjs <socket path>');
  process.exit(2);
}
const MAX_HEADER = 256;

const server = net.createServer((client) => {
  let header = Buffer.alloc(0);
  const onData = (/** @type {Buffer} */ chunk) => {
    header = Buffer.concat([header, chunk]);
    const end = header.indexOf(0x0a);
    if (end === -1) {
      if (header.length > MAX_HEADER) client.destroy();
      return;
    }
    client.off('data', onData);
    client.pause();
    const match = /^([0-9.]+):(\d+)$/.exec(header.subarray(0, end).toString('latin1'));
    if (!match) return void client.destroy();
    const rest = header.subarray(end + 1);
    const target = net.connect({ host: match[1], port: Number(match[2]) }, () => {
      if (rest.length > 0) target.write(rest);
      client.pipe(target).pipe(client);
      client.resume();
    });
    target.setNoDelay(true);
    target.on('error', () => client.destroy());
    client.on('error', () => target.destroy());
    client.on('close', () => target.destroy());
    target.on('close', () => client.destroy());
  };
  client.on('data', onData);
  client.on('error', () => undefined);
});
fs.rmSync(socketPath, { force: true });
server.listen(socketPath, () => process.stdout.write('ready\n'));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

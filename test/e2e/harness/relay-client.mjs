// @ts-check
// The host side of relay.mjs: connections to addresses inside the e2e node's network namespace, and loopback
// forwards to them for programs that need a TCP address (helm, kubectl, pg, fetch).
import net from 'node:net';

/**
 * A socket connected, through the relay's Unix socket, to `target` (`<ip>:<port>`) inside the namespace.
 * @param {string} socketPath @param {string} target @returns {net.Socket}
 */
export function relayConnect(socketPath, target) {
  const socket = net.connect(socketPath);
  socket.write(`${target}\n`);
  socket.setNoDelay(true);
  return socket;
}

/**
 * Listens on 127.0.0.1 (a free port) and relays every connection to `target` inside the namespace.
 * @param {string} socketPath @param {string} target
 * @returns {Promise<{ port: number, url: string, close: () => Promise<void> }>}
 */
export function openForward(socketPath, target) {
  /** @type {Set<net.Socket>} */
  const open = new Set();
  const server = net.createServer((client) => {
    const upstream = relayConnect(socketPath, target);
    open.add(client).add(upstream);
    client.setNoDelay(true);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({
        port,
        url: `127.0.0.1:${port}`,
        close: () =>
          new Promise((done) => {
            for (const socket of open) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

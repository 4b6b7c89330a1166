// @ts-check
// The one way tests, benchmarks and `npm start` pick a port for a server that cannot listen on port 0.
import fs from 'node:fs';
import net from 'node:net';

/** The kernel's range for the local ports of outgoing connections (and of listen(0)). */
function ephemeralRange() {
  try {
    const [low, high] = fs
      .readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (low && high) return { low, high };
  } catch {
    // not Linux: fall back to the IANA dynamic range
  }
  return { low: 49152, high: 65535 };
}

/** @type {Set<number>} ports handed out by this process, never handed out twice */
const handedOut = new Set();

/**
 * A free TCP port on 127.0.0.1 for a process to listen on later, chosen below the ephemeral range: a busy run opens
 * thousands of short connections (probes, database, API server), and a port taken from that range can be bound by
 * one of them as its local port before the server listens, which then fails with EADDRINUSE. A port is never
 * handed out twice by one process, so two calls always give two ports.
 * @returns {Promise<number>}
 */
export async function freePort() {
  const { low } = ephemeralRange();
  const floor = Math.min(20_000, low - 1000);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = floor + Math.floor(Math.random() * (low - floor));
    if (handedOut.has(port)) continue;
    const free = await new Promise((resolve) => {
      const server = net.createServer();
      server.unref();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port found between ${floor} and ${low}`);
}

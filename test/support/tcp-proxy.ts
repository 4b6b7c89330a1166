import net from 'node:net';

/**
 * A TCP proxy in front of the database (or the API server), for partition and hang scenarios:
 * - `stop()`: every connection is cut and the port refuses new ones (a pod cut off from the database);
 * - `blackhole()`: connections stay open and new ones are accepted, but nothing is delivered any more in either
 *   direction (a database that accepts connections and never answers);
 * - `healForNew()`: new connections are forwarded again, the blackholed ones stay silent and open (a partition that
 *   healed without resetting the connections it broke);
 * - `start()`: forwards again on the same port (existing blackholed connections are cut first).
 * `accepted` counts the client connections it took, for tests of connection reuse.
 */
export class TcpProxy {
  port = 0;
  accepted = 0;
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private holding = false;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<this> {
    this.cutAll();
    this.holding = false;
    if (!this.server) {
      const server = net.createServer((socket) => this.accept(socket));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.port, '127.0.0.1', () => resolve());
      });
      this.port = (server.address() as net.AddressInfo).port;
      this.server = server;
    }
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.cutAll();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  blackhole(): void {
    this.holding = true;
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  healForNew(): void {
    this.holding = false;
  }

  private accept(client: net.Socket): void {
    this.accepted += 1;
    this.track(client);
    if (this.holding) return; // accepted, never answered
    const upstream = net.connect(this.target.port, this.target.host);
    this.track(upstream);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    this.pairs.add(pair);
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private cutAll(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.pairs.clear();
  }
}

/** A started TcpProxy in front of the PostgreSQL at `databaseUrl`, and the URL that goes through it. */
export async function proxyDatabase(databaseUrl: string): Promise<{ proxy: TcpProxy; url: string }> {
  const direct = new URL(databaseUrl);
  const proxy = await new TcpProxy({ host: direct.hostname, port: Number(direct.port) }).start();
  const through = new URL(databaseUrl);
  through.port = String(proxy.port);
  return { proxy, url: through.toString() };
}

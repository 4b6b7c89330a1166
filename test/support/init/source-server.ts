import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, count: number) => void;

export interface SourceServer {
  url: string;
  /** Requests received so far. */
  requests: { method: string; url: string; headers: http.IncomingHttpHeaders; at: number }[];
  setHandler(handler: Handler): void;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1 playing the model source; the handler decides each answer. */
export async function startSourceServer(handler: Handler): Promise<SourceServer> {
  let current = handler;
  const requests: SourceServer['requests'] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, at: Date.now() });
    current(req, res, requests.length);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/active_models.json`,
    requests,
    setHandler: (next) => (current = next),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export function json(body: string, headers: http.OutgoingHttpHeaders = {}): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    res.end(body);
  };
}

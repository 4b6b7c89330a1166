// @ts-check
// A local model source in the morpheus format: answers after a delay, counts every request, can go down.
import { createHash } from 'node:crypto';
import http from 'node:http';

/**
 * A deterministic catalog of `count` models, shaped like the real feed (including one deleted entry).
 * @param {number} count @param {number} generation changes names so that two generations differ
 */
export function morpheusDocument(count, generation = 0) {
  const models = [];
  for (let i = 0; i < count; i++) {
    const id = createHash('sha256').update(`model-${i}`).digest('hex');
    models.push({
      Id: `0x${id}`,
      Name: `bench-model-${i}${generation ? `-g${generation}` : ''}`,
      Tags: ['bench', i % 2 ? 'LLM' : 'chat'],
      CreatedAt: 1745330395 + i,
      IsDeleted: false,
      ModelType: 'LLM',
      Fee: 1,
      Stake: '100000000000000000',
      Owner: `0x${id.slice(0, 40)}`,
      IpfsCID: `0x${id}`,
    });
  }
  models.push({ ...models[0], Name: 'deleted-model', IsDeleted: true });
  return { models };
}

/**
 * @typedef {{ mode: 'up' | 'down' | 'slow', delayMs: number, slowMs: number }} SourceBehaviour
 * @typedef {{ url: string, requests: () => number, reset: () => void, set: (b: Partial<SourceBehaviour>) => void,
 *   requestTimes: () => number[], close: () => Promise<void> }} ModelSource
 */

/**
 * 'up' answers 200 after delayMs; 'down' resets the connection at once (as a refused or dead endpoint looks to a
 * client); 'slow' answers after slowMs. Every request that reaches it is counted, whatever the mode.
 * @param {{ models?: number, delayMs?: number }} [options]
 * @returns {Promise<ModelSource>}
 */
export async function startModelSource(options = {}) {
  /** @type {SourceBehaviour} */
  const behaviour = { mode: 'up', delayMs: options.delayMs ?? 2000, slowMs: 30_000 };
  const body = JSON.stringify(morpheusDocument(options.models ?? 200));
  const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
  let count = 0;
  /** @type {number[]} performance.now() of each request since the last reset */
  let times = [];
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    count++;
    times.push(performance.now());
    if (behaviour.mode === 'down') {
      req.socket.destroy();
      return;
    }
    const wait = behaviour.mode === 'slow' ? behaviour.slowMs : behaviour.delayMs;
    const timer = setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json', etag, 'cache-control': 'no-cache' });
      res.end(body);
    }, wait);
    res.on('close', () => clearTimeout(timer));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${address.port}/models.json`,
    requests: () => count,
    requestTimes: () => [...times],
    reset: () => {
      count = 0;
      times = [];
    },
    set: (b) => Object.assign(behaviour, b),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve(undefined));
      }),
  };
}

// @ts-check
// The floor design: what this machine can do at all with a storm's shape. Each pod is the same two Node.js
// processes as modelgate's (an init container, then the app) doing nothing but the unavoidable: the init makes one
// HTTP request to a coordinator in the harness, which asks the model source once for all of them (a perfect
// single-flight, free of any database or API server), writes the answer to its pod's file and exits; the app reads
// the file, listens and answers 200. No design that starts two Node.js processes per pod gets every pod ready sooner.
import http from 'node:http';

/** The floor's init container: one request to the coordinator, the body written to its file. */
export const FLOOR_INIT = `const http = require('node:http'), fs = require('node:fs');
http.get(process.env.FLOOR_COORDINATOR_URL, (res) => {
  let body = '';
  res.setEncoding('utf8').on('data', (chunk) => (body += chunk)).on('end', () => {
    fs.writeFileSync(process.env.FLOOR_FILE, body);
    process.exit(res.statusCode === 200 ? 0 : 1);
  });
}).on('error', () => process.exit(1));`;

/** The floor's app: reads the file its init wrote, then answers every request with 200. */
export const FLOOR_APP = `const http = require('node:http'), fs = require('node:fs');
const models = JSON.parse(fs.readFileSync(process.env.FLOOR_FILE, 'utf8')).models.length;
http.createServer((req, res) => res.end(String(models))).listen(Number(process.env.PORT), '127.0.0.1');`;

/**
 * The harness-side single-flight: the first request of a flight asks the source, every request of the flight gets
 * its answer. reset() starts a new flight (one per storm run).
 * @param {string} sourceUrl
 * @returns {Promise<{ url: string, reset: () => void, close: () => Promise<void> }>}
 */
export async function startFlightCoordinator(sourceUrl) {
  /** @type {Promise<{ status: number, body: string }> | undefined} */
  let flight;
  const ask = () =>
    new Promise((resolve) => {
      http
        .get(sourceUrl, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        })
        .on('error', () => resolve({ status: 502, body: '' }));
    });
  const server = http.createServer((_req, res) => {
    flight ??= ask();
    void flight.then(({ status, body }) => res.writeHead(status).end(body));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${address.port}/`,
    reset: () => {
      flight = undefined;
    },
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}

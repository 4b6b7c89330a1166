// @ts-check
// A model source (the morpheus list) inside the e2e node's network namespace, on the service host address, behind
// a Service of the scenario that uses it. Controlled over the IPC channel by the test that started it:
//   {serve: <document>}       serve this document (ETag, 304 to a matching If-None-Match)
//   {delayMs: n}              answer n ms late (a slow source)
//   {failWith: status | 0}    answer every request with that status (0: serve again)
//   {requests: true}          reply {requests: <count of requests for the list>}
// Every message is answered with {ok: true} (or the count) once applied.
//
// Usage (inside the namespace): node source-server.mjs <listen ip> <port, 0 for any>
// Prints `{"port": n}` once it listens.
import { createHash } from 'node:crypto';
import http from 'node:http';

const [host, portText] = process.argv.slice(2);
let body = '';
let etag = '';
let delayMs = 0;
let failWith = 0;
let requests = 0;

const server = http.createServer((req, res) => {
  if (req.url !== '/active_models.json') return void res.writeHead(404).end();
  requests++;
  setTimeout(() => {
    if (failWith) return void res.writeHead(failWith, { 'content-type': 'text/plain' }).end('source down');
    if (req.headers['if-none-match'] === etag) return void res.writeHead(304, { etag }).end();
    res.writeHead(200, { 'content-type': 'application/json', etag }).end(body);
  }, delayMs);
});

process.on('message', (/** @type {any} */ message) => {
  if ('serve' in message) {
    body = JSON.stringify(message.serve);
    etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
  }
  if ('delayMs' in message) delayMs = message.delayMs;
  if ('failWith' in message) failWith = message.failWith;
  process.send?.('requests' in message ? { requests } : { ok: true });
});
process.on('disconnect', () => process.exit(0));
server.listen(Number(portText), host, () => {
  const address = server.address();
  process.stdout.write(
    `${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`,
  );
});

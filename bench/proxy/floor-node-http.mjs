// @ts-check
// The proxy benchmark's first floor: the least a Node.js proxy does. Reads the request body, forwards it to
// UPSTREAM_URL's /v1/chat/completions with a keep-alive agent, pipes the answer back (status, content type, body).
// No parsing, validation, authentication, logging or metrics. Prints {"port"} when listening on 127.0.0.1:PORT.
import http from 'node:http';
import { serve } from './serve.mjs';

const target = new URL('/v1/chat/completions', process.env.UPSTREAM_URL);
const agent = new http.Agent({ keepAlive: true });

const server = http.createServer((req, res) => {
  /** @type {Buffer[]} */
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const upstream = http.request(target, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': body.length },
    });
    upstream.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, {
        'content-type': answer.headers['content-type'] ?? 'text/plain',
      });
      answer.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    upstream.end(body);
  });
});
serve(server);

// @ts-check
// The proxy benchmark's second floor, and the reference of its goal: a bare express 5 proxy. express.json() parses
// the body, the route stringifies it and forwards it like the node:http floor (keep-alive agent, answer piped back).
// No validation, authentication, logging or metrics. Prints {"port"} when listening on 127.0.0.1:PORT.
import http from 'node:http';
import express from 'express';
import { serve } from './serve.mjs';

const target = new URL('/v1/chat/completions', process.env.UPSTREAM_URL);
const agent = new http.Agent({ keepAlive: true });

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.use(express.json({ limit: '1mb' }));
app.post('/v1/chat/completions', (req, res) => {
  const body = Buffer.from(JSON.stringify(req.body));
  const upstream = http.request(target, {
    method: 'POST',
    agent,
    headers: { 'content-type': 'application/json', 'content-length': body.length },
  });
  upstream.on('response', (answer) => {
    res.status(answer.statusCode ?? 502);
    res.setHeader('content-type', answer.headers['content-type'] ?? 'text/plain');
    answer.pipe(res);
  });
  upstream.on('error', () => {
    if (!res.headersSent) res.status(502);
    res.end();
  });
  upstream.end(body);
});

const server = http.createServer(app);
serve(server);

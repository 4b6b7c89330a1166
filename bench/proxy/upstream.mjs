// @ts-check
// The proxy benchmark's upstream, in a process of its own: a fast OpenAI-style `POST /v1/chat/completions` that
// answers at once, from precomputed bytes. A plain request gets a chat.completion with `usage`; `"stream": true`
// gets CHUNKS content chunks, a finish chunk, the usage chunk when `stream_options.include_usage` is true (as
// OpenAI sends it: empty choices, usage set), then `data: [DONE]`, each written separately as a real upstream
// would. The answer's `model` echoes the request's. Listens on 127.0.0.1:PORT (0: any), prints {"port"} when ready.
import http from 'node:http';
import { serve } from './serve.mjs';

const CHUNKS = Number(process.env.UPSTREAM_CHUNKS ?? 8);
const usage = { prompt_tokens: 24, completion_tokens: CHUNKS, total_tokens: 24 + CHUNKS };
const created = 1_767_225_600;
let served = 0;

/** @param {string} model */
function completion(model) {
  return JSON.stringify({
    id: `chatcmpl-bench-${++served}`,
    object: 'chat.completion',
    created,
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'Hello from the bench upstream.' },
        finish_reason: 'stop',
      },
    ],
    usage,
  });
}

/** @param {string} model @param {boolean} includeUsage @returns {string[]} the SSE events of one stream */
function streamEvents(model, includeUsage) {
  const id = `chatcmpl-bench-${++served}`;
  /** @param {object} fields */
  const event = (fields) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, ...fields })}\n\n`;
  const events = [
    event({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }),
  ];
  for (let i = 0; i < CHUNKS; i++)
    events.push(event({ choices: [{ index: 0, delta: { content: `token${i} ` }, finish_reason: null }] }));
  events.push(event({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }));
  if (includeUsage) events.push(event({ choices: [], usage }));
  events.push('data: [DONE]\n\n');
  return events;
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
    res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/plain' }).end('bench upstream\n');
    return;
  }
  /** @type {Buffer[]} */
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    /** @type {any} */
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"invalid JSON","type":"invalid_request_error"}}');
      return;
    }
    const model = typeof body.model === 'string' ? body.model : 'unknown';
    if (body.stream === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (const event of streamEvents(model, body.stream_options?.include_usage === true)) res.write(event);
      res.end();
      return;
    }
    const text = completion(model);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
});
serve(server);

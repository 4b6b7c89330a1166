import http from 'node:http';

/** Response bodies in tests are asserted field by field; any keeps those assertions short. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** One request; the body parsed as JSON, or the text when it is not JSON. */
export async function getJson(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: Json;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers };
}

/** What call() got: the answer, or status 0 when the connection failed; `ms` from sending to the whole body. */
export interface Answer {
  status: number;
  body: Json;
  headers: Headers;
  ms: number;
}

/** One API call with a bearer token (an API key or ADMIN_TOKEN); `status` 0 when the connection failed. */
export async function call(
  base: string,
  method: string,
  route: string,
  token?: string,
  body?: unknown,
): Promise<Answer> {
  const started = Date.now();
  try {
    const res = await getJson(`${base}${route}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { ...res, ms: Date.now() - started };
  } catch (error) {
    return { status: 0, body: String(error), headers: new Headers(), ms: Date.now() - started };
  }
}

/**
 * One request with node's http client, which, unlike fetch, sends any method (TRACE too), a body with GET and
 * DELETE, and no Accept-Encoding unless asked. A connection of its own per request: no race with a server closing
 * an idle keep-alive socket.
 */
export function nodeRequest(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; bytes: Buffer; text: string }> {
  const { method = 'GET', headers = {}, body } = init;
  const length = body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) };
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, headers: { ...headers, ...length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes, text: bytes.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

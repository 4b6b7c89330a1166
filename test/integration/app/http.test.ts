import type { AddressInfo } from 'node:net';
import http from 'node:http';
import { Router } from 'express';
import { Registry } from 'prom-client';
import { createApp } from '../../../app/app';
import { ApiError } from '../../../app/http/errors';
import type { Probes } from '../../../app/probes';
import { silentLogger } from '../../../core/logger';
import { getJson } from '../../support/http';
import { appConfig } from '../../support/app/config';

// jest ignores the integration project's testTimeout; these tests start servers and processes on a busy machine.
jest.setTimeout(60_000);

class TeapotError extends ApiError {
  readonly status = 418;
  readonly type = 'invalid_request_error';
}

function apiRouter(): Router {
  const router = Router();
  router.get('/things/:id', (req, res) => {
    res.json({ id: req.params.id });
  });
  router.get('/teapot/:id', (_req, _res, next) => {
    next(new TeapotError('short and stout', { code: 'teapot', param: 'pot' }));
  });
  router.get('/boom', () => {
    throw new Error('database password is hunter2');
  });
  router.post('/echo', (req, res) => {
    res.json({ received: req.body });
  });
  return router;
}

const probes: Probes = {
  readiness: () => ({ ready: true, reasons: [] }),
  status: () => ({}) as ReturnType<Probes['status']>,
  beforeScrape: () => {},
};

describe('express layer: request id, errors, body limits, route-template metrics', () => {
  const registry = new Registry();
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    const app = createApp({
      config: appConfig({ DATABASE_URL: 'postgres://u:p@127.0.0.1:1/x', BODY_LIMIT: '200b' }),
      logger: silentLogger(),
      registry,
      probes,
      api: { router: apiRouter() },
    });
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('echoes a sane X-Request-Id and generates one otherwise', async () => {
    const echoed = await fetch(`${base}/livez`, { headers: { 'X-Request-Id': 'abc-123' } });
    expect(echoed.headers.get('x-request-id')).toBe('abc-123');
    const generated = await fetch(`${base}/livez`);
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const hostile = await fetch(`${base}/livez`, { headers: { 'X-Request-Id': 'x'.repeat(500) } });
    expect(hostile.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('mounts the API at /api/v1 and /v1', async () => {
    expect((await getJson(`${base}/api/v1/things/7`)).body).toEqual({ id: '7' });
    expect((await getJson(`${base}/v1/things/8`)).body).toEqual({ id: '8' });
  });

  it('answers unknown paths with a JSON 404 in the OpenAI error shape', async () => {
    const res = await getJson(`${base}/nope`);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      error: {
        message: expect.stringContaining('No route for GET /nope'),
        type: 'not_found_error',
        code: 'route_not_found',
        param: null,
      },
    });
  });

  it('rejects malformed JSON with 400 and oversized bodies with 413', async () => {
    const post = (body: string) =>
      getJson(`${base}/api/v1/echo`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
      });
    expect(await post('{"a":1}')).toMatchObject({ status: 200, body: { received: { a: 1 } } });
    const bad = await post('{"a":');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({
      type: 'invalid_request_error',
      code: 'invalid_json',
      param: null,
    });
    const large = await post(JSON.stringify({ text: 'x'.repeat(500) }));
    expect(large.status).toBe(413);
    expect(large.body.error).toMatchObject({
      code: 'request_too_large',
      message: expect.stringContaining('200 bytes'),
    });
  });

  it('uses an error’s own status and toJSON body', async () => {
    const res = await getJson(`${base}/api/v1/teapot/1`);
    expect(res).toMatchObject({
      status: 418,
      body: {
        error: { message: 'short and stout', type: 'invalid_request_error', code: 'teapot', param: 'pot' },
      },
    });
  });

  it('turns an unexpected error into a 500 that leaks nothing and names the request id', async () => {
    const res = await getJson(`${base}/api/v1/boom`, { headers: { 'X-Request-Id': 'req-boom' } });
    expect(res.status).toBe(500);
    expect(res.body.error).toMatchObject({ type: 'server_error', code: 'internal_error' });
    expect(res.body.error.message).toContain('req-boom');
    expect(JSON.stringify(res.body)).not.toContain('hunter2');
  });

  it('labels http_request_duration_seconds with route templates, never raw paths', async () => {
    await fetch(`${base}/api/v1/things/12345`);
    await fetch(`${base}/api/v1/teapot/99`);
    await fetch(`${base}/definitely/not/here/42`);
    const text = await (await fetch(`${base}/metrics`)).text();
    const series = text.split('\n').filter((l) => l.startsWith('http_request_duration_seconds_count'));
    expect(series).toEqual(
      expect.arrayContaining([
        'http_request_duration_seconds_count{method="GET",route="/api/v1/things/:id",status_code="200"} 2',
        'http_request_duration_seconds_count{method="GET",route="/v1/things/:id",status_code="200"} 1',
        'http_request_duration_seconds_count{method="GET",route="/api/v1/teapot/:id",status_code="418"} 2',
        'http_request_duration_seconds_count{method="GET",route="unmatched",status_code="404"} 2',
      ]),
    );
    expect(text).not.toMatch(/12345|\/definitely/);
  });

  it('answers a method a known path does not serve with 405 and Allow, probes included', async () => {
    for (const path of ['/livez', '/metrics', '/api/v1/things/1']) {
      const res = await getJson(`${base}${path}`, { method: 'DELETE' });
      expect({ path, status: res.status, allow: res.headers.get('allow') }).toEqual({
        path,
        status: 405,
        allow: 'GET, HEAD, OPTIONS',
      });
      expect(res.body.error).toMatchObject({ code: 'method_not_allowed', type: 'invalid_request_error' });
    }
    const echo = await fetch(`${base}/v1/echo`, { method: 'GET' });
    expect([echo.status, echo.headers.get('allow')]).toEqual([405, 'OPTIONS, POST']);
    const options = await fetch(`${base}/readyz`, { method: 'OPTIONS' });
    expect([options.status, options.headers.get('allow')]).toEqual([204, 'GET, HEAD, OPTIONS']);
  });

  it('GET / is an index of the entry points', async () => {
    const res = await getJson(`${base}/`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'modelgate', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(res.body.links).toMatchObject({ docs: '/docs', readiness: '/readyz', metrics: '/metrics' });
  });
});

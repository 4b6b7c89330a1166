import { urlToHttpOptions } from 'node:url';
import { upstreamSchema } from '../../../../app/api/routing/routing-file';
import { Upstream } from '../../../../app/api/routing/upstream';

const noEvents = {
  breakerChanged: () => undefined,
  inFlightChanged: () => undefined,
  retired: () => undefined,
};

function upstreamAt(url: string, apiKey?: string): Upstream {
  return new Upstream('u', upstreamSchema.parse({ url }), apiKey, Date.now, noEvents);
}

describe('Upstream', () => {
  it.each([
    'http://127.0.0.1:8000',
    'http://127.0.0.1:8000/',
    'https://api.example.test/openai/',
    'http://[::1]:9000/base',
    'https://llm.internal.test:8443/prefix//',
  ])('targets %s as node itself would read the endpoint URL', (url) => {
    const upstream = upstreamAt(url);
    for (const [endpoint, path] of [
      ['chat', '/v1/chat/completions'],
      ['embeddings', '/v1/embeddings'],
    ] as const) {
      const expected = urlToHttpOptions(new URL(`${url.replace(/\/+$/, '')}${path}`));
      const target = upstream.target(endpoint);
      expect(target).toMatchObject({
        https: url.startsWith('https:'),
        protocol: expected.protocol,
        hostname: expected.hostname,
        port: expected.port === '' || expected.port === undefined ? undefined : Number(expected.port),
        path: expected.path,
      });
      // Worked out once per endpoint, then reused by every request.
      expect(upstream.target(endpoint)).toBe(target);
    }
  });

  it('sends its key as a bearer token, and none without one', () => {
    expect(upstreamAt('http://127.0.0.1:1', 'sk-abc').authorization).toBe('Bearer sk-abc');
    expect(upstreamAt('http://127.0.0.1:1').authorization).toBeUndefined();
  });
});

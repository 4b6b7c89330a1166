import type { ArtifactModel } from '../../../../core/artifact/schema';
import { compileRoutes } from '../../../../app/api/routing/route-table';
import { parseRoutingText, shorthandRouting } from '../../../../app/api/routing/routing-source';
import { retryAfter } from '../../../../app/api/routing/retry-after';
import { artifactModel } from '../../../support/models.mjs';

const model = (id: string, extra: Partial<ArtifactModel> = {}) =>
  artifactModel(id, { upstreamId: `0x${id}`, tags: [], ...extra });

const parse = (text: string, env: NodeJS.ProcessEnv = {}, path = '/etc/modelgate/routing/routing.yaml') =>
  parseRoutingText(text, path, env);

describe('the routing file', () => {
  it('reads YAML with defaults filled in and looks up each upstream key in the environment', () => {
    const result = parse(
      `
upstreams:
  a: { url: "https://llm-a.example/api", apiKeyEnv: A_KEY }
  b: { url: "http://127.0.0.1:8000", timeout: 5s, maxConcurrency: 10, breaker: { failures: 2, cooldown: 1s } }
routes:
  - targets: [{ upstream: a }, { upstream: b, priority: 1, rename: "meta/llama" }]
`,
      { A_KEY: ' secret-a ' },
    );
    if (!result.ok) throw new Error(result.problems.join('\n'));
    const { file, apiKeys } = result.routing;
    expect(file.settings).toEqual({ deadline: 120_000, unknownModels: 'both' });
    expect(file.upstreams.a).toEqual({
      url: 'https://llm-a.example/api',
      apiKeyEnv: 'A_KEY',
      timeout: 60_000,
      breaker: { failures: 5, cooldown: 30_000 },
    });
    expect(file.upstreams.b).toMatchObject({
      timeout: 5_000,
      maxConcurrency: 10,
      breaker: { failures: 2, cooldown: 1_000 },
    });
    expect(file.routes[0]!.match).toEqual({});
    expect(file.routes[0]!.targets[1]).toEqual({
      upstream: 'b',
      priority: 1,
      weight: 1,
      rename: 'meta/llama',
    });
    expect([...apiKeys]).toEqual([['a', 'secret-a']]);
    expect(result.routing.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reads JSON files as JSON', () => {
    const result = parse(
      JSON.stringify({ upstreams: { a: { url: 'http://x' } }, routes: [{ targets: [{ upstream: 'a' }] }] }),
      {},
      '/r/routing.json',
    );
    expect(result.ok).toBe(true);
    expect(parse('{"upstreams": ', {}, '/r/routing.json')).toEqual({
      ok: false,
      problems: [expect.stringMatching(/^ROUTING_FILE \/r\/routing\.json: not valid JSON: /)],
    });
  });

  it('reports every problem on one line naming its key path', () => {
    const result = parse(`
settings: { deadline: soon, unknownModels: maybe }
upstreams:
  a: { url: "ftp://x", apiKeyEnv: "NOT SET", extra: 1 }
  Bad: { url: "http://x" }
  c: { url: "http://user:pw@x" }
routes:
  - targets: [{ upstream: a, weight: 0 }]
  - match: { glob: "x*", typo: 1 }
    targets: [{ upstream: b }]
  - targets: []
  - targets: [{ upstream: a, model: name, rename: y }]
`);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual([
      expect.stringMatching(/^ROUTING_FILE settings\.deadline: is not a duration/),
      expect.stringMatching(/^ROUTING_FILE settings\.unknownModels: /),
      'ROUTING_FILE upstreams.a.url: has the unsupported scheme ftp: (http: or https:)',
      'ROUTING_FILE upstreams.a.apiKeyEnv: is not an environment variable name (letters, digits, _)',
      'ROUTING_FILE upstreams.a: Unrecognized key: "extra"',
      'ROUTING_FILE upstreams.Bad: is not an upstream name (lower-case letters, digits, - and _)',
      'ROUTING_FILE upstreams.c.url: must not carry credentials; put the key in apiKeyEnv',
      expect.stringMatching(/^ROUTING_FILE routes\[0\]\.targets\[0\]\.weight: /),
      expect.stringMatching(/^ROUTING_FILE routes\[1\]\.match: Unrecognized key: "typo"/),
      'ROUTING_FILE routes[2].targets: must list at least one target',
      'ROUTING_FILE routes[3].targets[0].rename: sets both model and rename; rename already fixes the name sent upstream',
      'ROUTING_FILE routes[1].targets[0].upstream: unknown upstream "b" (defined: a, Bad, c)',
    ]);
    expect(result.problems.join('\n')).not.toContain('pw');
  });

  it('names an API-key variable that is not set, without showing any value', () => {
    const text =
      'upstreams: { a: { url: "http://x", apiKeyEnv: A_KEY } }\nroutes: [{ targets: [{ upstream: a }] }]';
    expect(parse(text, { A_KEY: '  ' })).toEqual({
      ok: false,
      problems: [
        'ROUTING_FILE upstreams.a.apiKeyEnv: the environment variable A_KEY is not set; set it (in Kubernetes, add the key to the upstream Secret) or remove apiKeyEnv',
      ],
    });
  });

  it('says where YAML is broken', () => {
    expect(parse('upstreams: [')).toEqual({
      ok: false,
      problems: [
        expect.stringMatching(
          /^ROUTING_FILE \/etc\/modelgate\/routing\/routing\.yaml: not valid YAML: .*line 1/,
        ),
      ],
    });
  });

  it('the UPSTREAM_URL shorthand is one upstream behind one catch-all route', () => {
    const routing = shorthandRouting({
      url: 'http://up:8000',
      apiKey: 'k-123456789',
      timeoutMs: 5_000,
      modelField: 'name',
    });
    expect(routing.source).toBe('UPSTREAM_URL');
    expect(routing.file.settings.deadline).toBe(5_000);
    expect(routing.file.upstreams.default).toMatchObject({ url: 'http://up:8000', timeout: 5_000 });
    expect(compileRoutes(routing.file.routes).plan(model('x'))).toEqual([
      { upstream: 'default', model: 'x' },
    ]);
    expect(routing.apiKeys.get('default')).toBe('k-123456789');
    expect(routing.sha256).not.toContain('k-123456789');
  });
});

describe('the route table', () => {
  const table = (text: string) => {
    const result = parse(
      `upstreams: { a: { url: "http://a" }, b: { url: "http://b" }, c: { url: "http://c" } }\n${text}`,
    );
    if (!result.ok) throw new Error(result.problems.join('\n'));
    return compileRoutes(result.routing.file.routes);
  };

  it('takes the first route whose match fits: exact name, glob, tag, type, all of them at once', () => {
    const routes = table(`
routes:
  - match: { name: "exact/model:1" }
    targets: [{ upstream: a, model: name }]
  - match: { glob: "meta/*-8b" }
    targets: [{ upstream: b }]
  - match: { tag: Mistral, type: LLM }
    targets: [{ upstream: c, rename: mistral-large }]
  - match: { type: EMBEDDING }
    targets: [{ upstream: a }]
`);
    expect(routes.plan(model('exact/model:1'))).toEqual([{ upstream: 'a', model: 'exact/model:1' }]);
    expect(routes.plan(model('meta/llama/3-8b'))).toEqual([{ upstream: 'b', model: '0xmeta/llama/3-8b' }]);
    expect(routes.plan(model('m', { tags: ['Mistral'] }))).toEqual([
      { upstream: 'c', model: 'mistral-large' },
    ]);
    expect(routes.plan(model('m', { tags: ['Mistral'], type: 'UNKNOWN' }))).toBeUndefined();
    expect(routes.plan(model('e', { type: 'EMBEDDING' }))).toEqual([{ upstream: 'a', model: '0xe' }]);
    expect(routes.plan(model('other'))).toBeUndefined();
  });

  it('orders by priority and shares one priority by weight', () => {
    const routes = table(`
routes:
  - targets: [{ upstream: c, priority: 2 }, { upstream: a, weight: 3 }, { upstream: b, weight: 1 }]
`);
    let seed = 0;
    const random = () => (seed = (seed * 16807 + 12345) % 2147483647) / 2147483647;
    const firsts = { a: 0, b: 0 } as Record<string, number>;
    const orders = new Set<string>();
    for (let i = 0; i < 4000; i++) {
      const plan = routes.plan(model('x'), random)!;
      orders.add(plan.map((t) => t.upstream).join(','));
      firsts[plan[0]!.upstream]! += 1;
    }
    expect([...orders].sort()).toEqual(['a,b,c', 'b,a,c']);
    // 3:1 weights: a first about 75% of the time.
    expect(firsts.a! / 4000).toBeGreaterThan(0.7);
    expect(firsts.a! / 4000).toBeLessThan(0.8);
  });
});

describe('Retry-After', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('reads seconds, HTTP dates and retry-after-ms, capped at 10 minutes', () => {
    expect(retryAfter({ 'retry-after': '3' }, now)).toBe(now + 3_000);
    expect(retryAfter({ 'retry-after': 'Thu, 01 Jan 2026 00:00:10 GMT' }, now)).toBe(now + 10_000);
    expect(retryAfter({ 'retry-after-ms': '250', 'retry-after': '9' }, now)).toBe(now + 250);
    expect(retryAfter({ 'retry-after': '86400' }, now)).toBe(now + 600_000);
    expect(retryAfter({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(retryAfter({}, now)).toBeUndefined();
  });
});

// Routing through the built modelgate-app process (dist/bin), real PostgreSQL and real upstream servers: failover
// before the first byte, the breaker, broken streams, embeddings, type checks and hot-reloading the routing file.
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { buildArtifact, serializeArtifact, type ArtifactModel } from '../../../core/artifact/schema';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { writeAtomically } from '../../support/kubelet-volume.mjs';
import { freePort } from '../../support/ports.mjs';
import { tempDir } from '../../support/temp.mjs';
import { eventually, untilReady } from '../../support/wait';
import { runAppBinary, startAppBinary, type AppProcess } from '../../support/app/app-binary';
import { testModels } from '../../support/api/catalog';
import { UpstreamServer } from '../../support/api/upstream-server';

jest.setTimeout(120_000);

const ADMIN_TOKEN = 'routing-admin-token-0123456789abcdef01234';
const HEALTHY_KEY = 'healthy-upstream-key-0123456789abcdef';
const hi = [{ role: 'user', content: 'hi' }];

const extraModels: ArtifactModel[] = [
  { ...testModels[0]!, id: 'broken-model', upstreamId: 'behaviour:break', tags: [] },
  { ...testModels[0]!, id: 'mystery-model', upstreamId: '0xmystery', tags: [], type: 'UNKNOWN' },
];

/** The routing file: one route per scenario, each with its own upstreams so breakers do not mix. */
function routing(u: Record<string, string>, healthy = 'healthy'): string {
  return `
settings: { deadline: 20s }
upstreams:
  refusing: { url: "${u.refusing}", timeout: 2s, breaker: { failures: 3, cooldown: 1s } }
  failing: { url: "${u.failing}", timeout: 2s, breaker: { failures: 3, cooldown: 1s } }
  hanging: { url: "${u.hanging}", timeout: 300ms, breaker: { failures: 3, cooldown: 1s } }
  flaky: { url: "${u.flaky}", timeout: 2s, breaker: { failures: 3, cooldown: 4s } }
  limited-a: { url: "${u.limitedA}", breaker: { failures: 3 } }
  limited-b: { url: "${u.limitedB}", breaker: { failures: 3 } }
  healthy: { url: "${u.healthy}", apiKeyEnv: HEALTHY_KEY }
  healthy2: { url: "${u.healthy2}" }
routes:
  - match: { type: EMBEDDING }
    targets: [{ upstream: ${healthy}, model: name }]
  - match: { name: mistral-31-24b }
    targets: [{ upstream: flaky }, { upstream: ${healthy}, priority: 1 }]
  - match: { glob: "meta/*" }
    targets: [{ upstream: hanging }, { upstream: ${healthy}, priority: 1 }]
  - match: { name: llama 3.3 70b }
    targets: [{ upstream: limited-a }, { upstream: limited-b }]
  - match: { name: broken-model }
    targets: [{ upstream: refusing }, { upstream: ${healthy}, priority: 1 }]
  - targets:
      - { upstream: refusing }
      - { upstream: failing, priority: 1 }
      - { upstream: ${healthy}, priority: 2, rename: served-name }
`;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

describe('routing through modelgate-app with three kinds of broken upstream', () => {
  let database: TestDatabase;
  let app: AppProcess;
  let key: string;
  let client: OpenAI;
  let routingDir: string;
  let urls: Record<string, string>;
  const servers: Record<string, UpstreamServer> = {};

  const status = async (): Promise<Json> =>
    ((await (await fetch(`${app.url}/status`)).json()) as Json).api.routing;
  const metrics = async () => (await fetch(`${app.url}/metrics`)).text();
  const chat = (body: Record<string, unknown>) =>
    fetch(`${app.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: hi, ...body }),
    });

  beforeAll(async () => {
    database = await createTestDatabase('routing');
    await database.migrateLatest();
    for (const name of ['failing', 'hanging', 'flaky', 'limitedA', 'limitedB', 'healthy', 'healthy2'])
      servers[name] = await new UpstreamServer(name).start();
    servers.failing!.fail = 503;
    servers.hanging!.hang = true;
    servers.limitedA!.fail = 429;
    servers.limitedA!.retryAfter = 30;
    servers.limitedB!.fail = 429;
    servers.limitedB!.retryAfter = 5;
    // Nothing listens on this port: connections are refused.
    urls = Object.fromEntries(Object.entries(servers).map(([name, server]) => [name, server.url]));
    urls.refusing = `http://127.0.0.1:${await freePort()}`;

    const dir = tempDir('routing');
    const modelsFile = path.join(dir, 'models.json');
    const artifact = buildArtifact({
      models: [...testModels, ...extraModels],
      source: { url: 'file:///test/models.json', etag: null, lastModified: null },
      fetchedAt: new Date().toISOString(),
    });
    fs.writeFileSync(modelsFile, serializeArtifact(artifact));
    // Published the way the kubelet updates a mounted ConfigMap.
    routingDir = path.join(dir, 'routing');
    writeAtomically(routingDir, { 'routing.yaml': routing(urls) });
    app = await startAppBinary({
      DATABASE_URL: database.url,
      MODELS_FILE: modelsFile,
      ADMIN_TOKEN,
      ROUTING_FILE: path.join(routingDir, 'routing.yaml'),
      HEALTHY_KEY,
      LOG_LEVEL: 'info',
    });
    await untilReady(app.url);
    const created = await fetch(`${app.url}/api/v1/admin/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'routing' }),
    });
    key = ((await created.json()) as Json).key.key;
    client = new OpenAI({ apiKey: key, baseURL: `${app.url}/v1`, maxRetries: 0, timeout: 20_000 });
  });

  afterAll(async () => {
    await app?.stop();
    for (const server of Object.values(servers)) await server.close();
    await database?.drop();
    const printed = app?.lines.join('\n') ?? '';
    expect(printed).not.toContain(HEALTHY_KEY);
    expect(printed).not.toContain(key);
  });

  it('50 concurrent requests, plain and streamed, past a refusing and a 503 upstream: 0 failures', async () => {
    const plain = Array.from({ length: 50 }, () =>
      client.chat.completions
        .create({ model: 'alias-of-mistral', messages: [{ role: 'user', content: 'x' }] })
        .withResponse(),
    );
    const streamed = Array.from({ length: 50 }, async () => {
      const stream = await client.chat.completions.create({
        model: 'alias-of-mistral',
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      });
      const models = new Set<string>();
      let text = '';
      for await (const chunk of stream) {
        models.add(chunk.model);
        text += chunk.choices[0]?.delta?.content ?? '';
      }
      return { models, text };
    });
    const answers = await Promise.all(plain);
    const streams = await Promise.all(streamed);
    for (const { data, response } of answers) {
      // The client's name in the body; who served it, under which name, in the headers.
      expect(data.model).toBe('alias-of-mistral');
      expect(data.choices[0]!.message.content).toBe('echo: x');
      expect(response.headers.get('x-modelgate-upstream')).toBe('healthy');
      expect(response.headers.get('x-modelgate-upstream-model')).toBe('served-name');
    }
    for (const { models, text } of streams) {
      expect([...models]).toEqual(['alias-of-mistral']);
      expect(text).toBe('part1 part2 part3 ');
    }
    expect(servers.healthy!.requests.every((r) => r.body.model === 'served-name')).toBe(true);
    expect(servers.healthy!.requests.every((r) => r.headers.authorization === `Bearer ${HEALTHY_KEY}`)).toBe(
      true,
    );
    const text = await metrics();
    const failovers = (from: string) =>
      [
        ...text.matchAll(
          new RegExp(`^modelgate_upstream_failovers_total\\{upstream="${from}",[^}]*\\} (\\d+)`, 'gm'),
        ),
      ]
        .map((m) => Number(m[1]))
        .reduce((a, b) => a + b, 0);
    console.log(
      `failover run: 100 requests, 0 failed; failovers from refusing ${failovers('refusing')}, from failing ${failovers('failing')}; requests that reached failing: ${servers.failing!.requests.length}`,
    );
    expect(failovers('refusing')).toBeGreaterThan(0);
    // Per upstream and model: time to first byte for every served request, time to first token for the streams.
    const count = (histogram: string) =>
      [
        ...text.matchAll(
          new RegExp(`^${histogram}_count\\{upstream="healthy",model="[^"]+"[^}]*\\} (\\d+)`, 'gm'),
        ),
      ]
        .map((m) => Number(m[1]))
        .reduce((a, b) => a + b, 0);
    expect(count('modelgate_upstream_time_to_first_byte_seconds')).toBe(100);
    expect(count('modelgate_upstream_time_to_first_token_seconds')).toBe(50);
    expect(count('modelgate_upstream_request_duration_seconds')).toBe(100);
    // Both bad upstreams' breakers opened on the way.
    expect(text).toMatch(
      /modelgate_upstream_breaker_transitions_total\{upstream="refusing",state="open"\} [1-9]/,
    );
  });

  it('a hanging upstream costs its timeout until its breaker opens; 50 concurrent, 0 failures', async () => {
    const before = servers.hanging!.requests.length;
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        client.chat.completions.create({
          model: 'meta/llama:8b',
          messages: [{ role: 'user', content: 'h' }],
        }),
      ),
    );
    expect(results.every((r) => r.model === 'meta/llama:8b')).toBe(true);
    expect(servers.hanging!.requests.length).toBeGreaterThan(before);
    // Each timed-out request was aborted, not left open at the upstream.
    await Promise.all(servers.hanging!.requests.slice(before).map((r) => r.aborted));
  });

  it('the breaker opens within its threshold, stops traffic, lets a trial through after the cool-down and closes', async () => {
    const flaky = servers.flaky!;
    flaky.fail = 500;
    for (let i = 0; i < 8; i++) {
      const res = await chat({ model: 'mistral-31-24b' });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-modelgate-upstream')).toBe('healthy');
      await res.arrayBuffer();
    }
    // Three consecutive failures open it: the other five never reached the upstream.
    expect(flaky.requests.length).toBe(3);
    const open = (await status()).upstreams.find((u: Json) => u.name === 'flaky');
    expect(open).toMatchObject({ breaker: 'open', retryAt: expect.any(String) });
    expect(await metrics()).toContain('modelgate_upstream_breaker_state{upstream="flaky",state="open"} 1');

    flaky.fail = undefined;
    await new Promise((resolve) => setTimeout(resolve, 4_100));
    const trial = await chat({ model: 'mistral-31-24b' });
    expect(trial.status).toBe(200);
    expect(trial.headers.get('x-modelgate-upstream')).toBe('flaky');
    await trial.arrayBuffer();
    expect((await status()).upstreams.find((u: Json) => u.name === 'flaky').breaker).toBe('closed');
    const after = await chat({ model: 'mistral-31-24b' });
    expect(after.headers.get('x-modelgate-upstream')).toBe('flaky');
    await after.arrayBuffer();
    expect(flaky.requests.length).toBe(5);
  });

  it('every target rate limiting: 429 with the earliest Retry-After', async () => {
    const res = await chat({ model: 'llama 3.3 70b' });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(((await res.json()) as Json).error).toMatchObject({
      type: 'rate_limit_error',
      code: 'upstream_rate_limited',
    });
    // Both asked for time: the next request does not even reach them.
    const before = servers.limitedA!.requests.length + servers.limitedB!.requests.length;
    const again = await chat({ model: 'llama 3.3 70b' });
    expect(again.status).toBe(429);
    await again.arrayBuffer();
    expect(servers.limitedA!.requests.length + servers.limitedB!.requests.length).toBe(before);
  });

  it('a stream the upstream breaks after its first chunk: the openai SDK raises, nothing hangs, no retry', async () => {
    const before = servers.healthy!.requests.length;
    const stream = await client.chat.completions.create({
      model: 'broken-model',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
    });
    const seen: string[] = [];
    const consume = async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta?.content ?? '');
    };
    const error = await consume().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as Error).message).toContain('broke off the answer midway');
    expect(seen).toEqual(['part1 ']);
    // A byte had reached the client: the request was not sent anywhere again.
    expect(servers.healthy!.requests.length).toBe(before + 1);
    expect(await metrics()).toMatch(
      /modelgate_upstream_errors_total\{upstream="healthy",model="broken-model",reason="broken"\} 1/,
    );
  });

  it('embeddings through the openai SDK, with the model name asked for', async () => {
    const result = await client.embeddings.create({ model: 'text-embedding', input: ['a', 'b'] });
    expect(result.model).toBe('text-embedding');
    expect(result.data.map((d) => d.index)).toEqual([0, 1]);
    expect(result.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
    const seen = servers.healthy!.requests.at(-1)!;
    expect(seen.path).toBe('/v1/embeddings');
    expect(seen.body).toEqual({ model: 'text-embedding', input: ['a', 'b'], encoding_format: 'base64' });
    const api = await fetch(`${app.url}/api/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'text-embedding', input: 'one' }),
    });
    expect(api.status).toBe(200);
    expect(((await api.json()) as Json).data[0].embedding).toEqual([0.25, -0.5, 0]);
  });

  it('chat to an EMBEDDING model and embeddings of an LLM model are 400s naming the type, never forwarded', async () => {
    const before = Object.values(servers).reduce((n, s) => n + s.requests.length, 0);
    await expect(
      client.chat.completions.create({ model: 'text-embedding', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toMatchObject({
      status: 400,
      code: 'model_not_supported',
      message: expect.stringContaining('is an EMBEDDING model; chat completions need an LLM model'),
    });
    await expect(client.embeddings.create({ model: 'mistral-31-24b', input: 'x' })).rejects.toMatchObject({
      status: 400,
      code: 'model_not_supported',
      message: expect.stringContaining('is an LLM model; embeddings need an EMBEDDING model'),
    });
    expect(Object.values(servers).reduce((n, s) => n + s.requests.length, 0)).toBe(before);
    // UNKNOWN is accepted by both by default.
    const unknown = await client.embeddings.create({ model: 'mystery-model', input: 'x' });
    expect(unknown.model).toBe('mystery-model');
  });

  it('the routing file rewritten under load: 0 failed requests; an invalid rewrite keeps the routes in force', async () => {
    let stop = false;
    const failures: string[] = [];
    const seen = new Set<string>();
    let sent = 0;
    const worker = async () => {
      while (!stop) {
        sent += 1;
        const res = await chat({ model: 'alias-of-mistral', stream: sent % 2 === 0 });
        const body = await res.text();
        if (res.status !== 200 || body.includes('"error"'))
          failures.push(`${res.status} ${body.slice(0, 200)}`);
        else seen.add(res.headers.get('x-modelgate-upstream')!);
      }
    };
    const workers = Array.from({ length: 10 }, worker);
    const generation = (await status()).file.generation;
    let rejected: Json;
    try {
      // Each rewrite is waited for (two writes close together may be read once, and a file that reads as the one
      // in force is not a change), so every one of the six is a switch under load.
      for (let i = 0; i < 6; i++) {
        await new Promise((resolve) => setTimeout(resolve, 150));
        writeAtomically(routingDir, { 'routing.yaml': routing(urls, i % 2 === 0 ? 'healthy2' : 'healthy') });
        await eventually(
          async () => ((await status()).file.generation >= generation + i + 1 ? true : undefined),
          30_000,
          `routing generation ${generation + i + 1}`,
        );
      }
      // An invalid file: the routes in force (the last good one: healthy) stay.
      writeAtomically(routingDir, {
        'routing.yaml': routing(urls, 'healthy').replace(
          'upstream: healthy, priority: 2',
          'upstream: nowhere, priority: 2',
        ),
      });
      rejected = await eventually(
        async () => {
          const view = await status();
          return view.file.valid === false ? view.file : undefined;
        },
        30_000,
        'the invalid routing file to be rejected',
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    console.log(
      `routing rewritten 6 times and once invalid under load: ${sent} requests, ${failures.length} failed`,
    );
    expect(failures).toEqual([]);
    expect([...seen].sort()).toEqual(['healthy', 'healthy2']);
    expect(rejected.problems).toEqual([
      expect.stringMatching(/^ROUTING_FILE routes\[5\]\.targets\[2\]\.upstream: unknown upstream "nowhere"/),
    ]);
    expect(rejected.generation).toBe(generation + 6);
    const after = await chat({ model: 'alias-of-mistral' });
    expect(after.headers.get('x-modelgate-upstream')).toBe('healthy');
    await after.arrayBuffer();
    const text = await metrics();
    expect(text).toContain('modelgate_routing_file_valid 0');
    expect(text).toMatch(/modelgate_routing_reloads_total\{result="rejected"\} 1/);
    expect(text).toContain(`modelgate_routing_generation ${generation + 6}`);
  });
});

describe('modelgate-app validates the routing at start', () => {
  it('exits 2 with one line per problem, naming the key, an unset key variable included', async () => {
    const dir = tempDir('routing-invalid');
    const file = path.join(dir, 'routing.yaml');
    fs.writeFileSync(
      file,
      `
upstreams:
  a: { url: "http://127.0.0.1:9", apiKeyEnv: A_KEY }
  c: { url: "http://127.0.0.1:9", timeout: soon }
routes:
  - targets: [{ upstream: a }]
  - targets: [{ upstream: a }]
  - targets: [{ upstream: a }, { upstream: b }]
`,
    );
    const { code, stderr } = await runAppBinary({
      DATABASE_URL: 'postgres://modelgate@127.0.0.1:9/none',
      ROUTING_FILE: file,
    });
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^modelgate: configuration error: ROUTING_FILE upstreams\.c\.timeout: is not a duration/,
      ),
      'modelgate: configuration error: ROUTING_FILE routes[2].targets[1].upstream: unknown upstream "b" (defined: a, c)',
    ]);
    fs.writeFileSync(
      file,
      'upstreams: { a: { url: "http://127.0.0.1:9", apiKeyEnv: A_KEY } }\nroutes: [{ targets: [{ upstream: a }] }]',
    );
    const missingKey = await runAppBinary({
      DATABASE_URL: 'postgres://modelgate@127.0.0.1:9/none',
      ROUTING_FILE: file,
    });
    expect(missingKey.code).toBe(2);
    expect(missingKey.stderr).toContain(
      'ROUTING_FILE upstreams.a.apiKeyEnv: the environment variable A_KEY is not set',
    );
    const both = await runAppBinary({
      DATABASE_URL: 'postgres://modelgate@127.0.0.1:9/none',
      ROUTING_FILE: file,
      UPSTREAM_URL: 'http://127.0.0.1:9',
      A_KEY: 'k',
    });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('ROUTING_FILE and UPSTREAM_URL are both set');
    const absent = await runAppBinary({
      DATABASE_URL: 'postgres://modelgate@127.0.0.1:9/none',
      ROUTING_FILE: path.join(dir, 'nope.yaml'),
    });
    expect(absent.code).toBe(2);
    expect(absent.stderr).toContain(`ROUTING_FILE ${path.join(dir, 'nope.yaml')}: cannot be read (ENOENT)`);
  });
});

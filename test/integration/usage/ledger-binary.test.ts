// The usage ledger in the built modelgate-app against PostgreSQL and an upstream on loopback that reports (or does
// not report) usage: streamed and plain calls, the usage chunk the gateway asked for left out, estimates, a SIGTERM
// in the middle of a load run with every record written, a stopped database with the records held and written.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import knex, { type Knex } from 'knex';
import { migratorConfig } from '../../../core/db/migrations';
import { modelsFile, startAppBinary, type AppProcess } from '../../support/app/app-binary';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { startOwnPostgres } from '../../support/own-postgres';
import { artifactModel } from '../../support/models.mjs';
import { eventually, untilReady } from '../../support/wait';

jest.setTimeout(180_000);

const ADMIN_TOKEN = 'ledger-admin-token-0123456789abcdef0123456';
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * An OpenAI-compatible upstream that reports different counts per request and remembers them by request id;
 * an upstream model ending in "silent" reports no usage at all (the gateway must estimate).
 */
class CountingUpstream {
  readonly reported = new Map<string, { prompt: number; completion: number }>();
  readonly seen = new Set<string>();
  readonly bodies: Json[] = [];
  private server = http.createServer((req, res) => void this.handle(req, res));
  private sequence = 0;
  url = '';

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    const body = JSON.parse(text) as Json;
    this.bodies.push(body);
    const id = String(req.headers['x-request-id']);
    this.seen.add(id);
    this.sequence += 1;
    const prompt = 5 + (this.sequence % 17);
    const completion = 1 + (this.sequence % 23);
    const silent = String(body.model).endsWith('silent');
    if (!silent) this.reported.set(id, { prompt, completion });
    const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
    const base = { id: `c-${this.sequence}`, created: 1, model: body.model };
    await new Promise((resolve) => setTimeout(resolve, 30));
    if (body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json' });
      const message = { role: 'assistant', content: 'four words of answer' };
      res.end(
        JSON.stringify({
          ...base,
          object: 'chat.completion',
          choices: [{ index: 0, message, finish_reason: 'stop' }],
          ...(silent ? {} : { usage }),
        }),
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const event = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
    const chunk = { ...base, object: 'chat.completion.chunk' };
    for (const word of ['streamed ', 'three ', 'words']) {
      event({ ...chunk, choices: [{ index: 0, delta: { content: word }, finish_reason: null }] });
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const includeUsage = (body.stream_options as Json | undefined)?.include_usage === true;
    if (includeUsage && !silent) event({ ...chunk, choices: [], usage });
    res.end('data: [DONE]\n\n');
  }
}

const models = [
  artifactModel('counted', { upstreamId: 'upstream-counted', tags: [] }),
  artifactModel('silent', { upstreamId: 'upstream-silent', tags: [] }),
];

let users = 0;

async function startGateway(databaseUrl: string, upstream: string, env: Record<string, string> = {}) {
  const app = await startAppBinary({
    DATABASE_URL: databaseUrl,
    MODELS_FILE: modelsFile(models),
    ADMIN_TOKEN,
    UPSTREAM_URL: upstream,
    LOG_LEVEL: 'info',
    SHUTDOWN_TIMEOUT: '20s',
    ...env,
  });
  await untilReady(app.url);
  const created = await fetch(`${app.url}/v1/admin/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `ledger-${(users += 1)}` }),
  });
  const user = (await created.json()) as Json;
  return { app, key: String(user.key.key), userId: String(user.user.id), keyId: String(user.key.id) };
}

function chat(app: AppProcess, key: string, model: string, stream: boolean, extra: Json = {}) {
  return fetch(`${app.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model,
      stream,
      messages: [{ role: 'user', content: 'count these words' }],
      ...extra,
    }),
  });
}

interface Row {
  request_id: string;
  model: string;
  status: number;
  prompt_tokens: number;
  completion_tokens: number;
  estimated: boolean;
  ttft_ms: number | null;
}

const rows = (db: Knex) => db<Row>('usage_records').select('*');

describe('usage ledger in modelgate-app', () => {
  const upstream = new CountingUpstream();
  let database: TestDatabase;
  beforeAll(async () => {
    await upstream.listen();
    database = await createTestDatabase('ledger_binary');
    await database.migrateLatest();
  });
  afterAll(async () => {
    await upstream.close();
    await database?.drop();
  });

  it('records plain and streamed calls with the upstream counts, leaving out the usage chunk it asked for', async () => {
    const { app, key, userId, keyId } = await startGateway(database.url, upstream.url, {
      USAGE_FLUSH_INTERVAL: '200ms',
    });
    try {
      const plain = await chat(app, key, 'counted', false);
      expect(plain.status).toBe(200);
      const streamed = await (await chat(app, key, 'counted', true)).text();
      // The client did not ask for usage: the upstream was asked, the client gets no usage chunk.
      expect(upstream.bodies.at(-1)!.stream_options).toEqual({ include_usage: true });
      expect(streamed).not.toContain('"usage"');
      expect(streamed).toContain('words');
      expect(streamed.trimEnd().endsWith('data: [DONE]')).toBe(true);
      // A client that asks gets the chunk, and its other stream options go upstream unchanged.
      const asked = await (
        await chat(app, key, 'counted', true, { stream_options: { include_usage: true } })
      ).text();
      expect(asked).toContain('"usage"');
      // No usage from the upstream: counted with the tokenizer, marked estimated.
      await (await chat(app, key, 'silent', true)).text();
      await (await chat(app, key, 'silent', false)).text();

      const written = await eventually(
        async () => {
          const all = await rows(database.db);
          return all.length === 5 ? all : undefined;
        },
        20_000,
        'five usage records',
      );
      for (const row of written.filter((r) => !r.estimated)) {
        const counts = upstream.reported.get(row.request_id)!;
        expect({ p: row.prompt_tokens, c: row.completion_tokens }).toEqual({
          p: counts.prompt,
          c: counts.completion,
        });
      }
      const estimated = written.filter((r) => r.estimated);
      expect(estimated.map((r) => r.model).sort()).toEqual(['silent', 'silent']);
      // The answers' texts counted in o200k_base; the prompt is more than the upstream's smallest count.
      expect(estimated.map((r) => r.completion_tokens).sort()).toEqual(
        [countTokens('streamed three words'), countTokens('four words of answer')].sort(),
      );
      for (const row of estimated) expect(row.prompt_tokens).toBeGreaterThan(5);
      expect(written.every((r) => r.status === 200 && r.ttft_ms !== null)).toBe(true);

      // The caller's usage route adds them up per day and model.
      const usage = (await (
        await fetch(`${app.url}/v1/usage`, { headers: { authorization: `Bearer ${key}` } })
      ).json()) as Json;
      const counted = usage.data.find((d: Json) => d.model === 'counted');
      expect(counted.requests).toBe(3);
      expect(counted.prompt_tokens).toBe(
        written.filter((r) => r.model === 'counted').reduce((sum, r) => sum + r.prompt_tokens, 0),
      );
      const admin = (await (
        await fetch(`${app.url}/v1/admin/usage?user_id=${userId}`, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        })
      ).json()) as Json;
      expect(admin.data.map((g: Json) => [g.model, g.requests, g.estimated_requests])).toEqual([
        ['counted', 3, 0],
        ['silent', 2, 2],
      ]);
      // Scoped to the caller: another user's key or user id is unknown (404), the caller's own key is not.
      const other = await fetch(`${app.url}/v1/admin/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'someone else' }),
      });
      const someone = (await other.json()) as Json;
      const asCaller = (query: string) =>
        fetch(`${app.url}/v1/usage?${query}`, { headers: { authorization: `Bearer ${key}` } });
      expect((await asCaller(`key_id=${someone.key.id}`)).status).toBe(404);
      expect((await asCaller(`user_id=${someone.user.id}`)).status).toBe(404);
      expect((await asCaller(`key_id=${keyId}`)).status).toBe(200);
      expect(((await (await asCaller('from=2026-01-01&to=2025-01-01')).json()) as Json).data).toEqual([]);
      const metrics = await (await fetch(`${app.url}/metrics`)).text();
      const estimatedCompletion = estimated.reduce((sum, r) => sum + r.completion_tokens, 0);
      expect(metrics).toContain(
        `modelgate_usage_tokens_total{model="silent",kind="completion",estimated="true"} ${estimatedCompletion}`,
      );
      expect(metrics).toMatch(/modelgate_usage_records_written_total 5/);
    } finally {
      await app.stop();
    }
  });

  it('loses no record when SIGTERM comes in the middle of a load run: the drain writes them all', async () => {
    await database.db('usage_records').del();
    upstream.reported.clear();
    upstream.seen.clear();
    // A long interval: without the flush at shutdown, nothing would be written.
    const { app, key } = await startGateway(database.url, upstream.url, { USAGE_FLUSH_INTERVAL: '60s' });
    const answered: string[] = [];
    let sent = 0;
    let stopping = false;
    const worker = async (n: number) => {
      while (!stopping) {
        sent += 1;
        const stream = sent % 2 === 0;
        const model = sent % 7 === 0 ? 'silent' : 'counted';
        try {
          const res = await chat(app, key, model, stream);
          const text = await res.text();
          if (res.status === 200 && (stream ? text.includes('[DONE]') : text.includes('choices')))
            answered.push(res.headers.get('x-request-id')!);
        } catch {
          // The gateway closed after its drain: this request was not answered.
          return;
        }
        if (n < 0) return;
      }
    };
    const workers = Array.from({ length: 16 }, (_, n) => worker(n));
    await eventually(async () => (answered.length >= 150 ? true : undefined), 60_000, '150 answers');
    app.child.kill('SIGTERM');
    // Requests keep coming for a moment after the signal, as they would from a load balancer.
    await new Promise((resolve) => setTimeout(resolve, 300));
    stopping = true;
    await Promise.all(workers);
    expect(await app.exited).toBe(0);

    const written = await rows(database.db);
    const ids = new Set(written.map((r) => r.request_id));
    // Every request the upstream answered has its record, once; every answer the client got is among them.
    expect(written.length).toBe(ids.size);
    expect([...upstream.seen].filter((id) => !ids.has(id))).toEqual([]);
    expect(answered.filter((id) => !ids.has(id))).toEqual([]);
    // The ledger's totals equal the upstream's counts.
    const reported = [...upstream.reported.values()];
    const ledgerCounted = written.filter((r) => !r.estimated);
    expect(ledgerCounted.length).toBe(reported.length);
    expect(ledgerCounted.reduce((s, r) => s + r.prompt_tokens + r.completion_tokens, 0)).toBe(
      reported.reduce((s, c) => s + c.prompt + c.completion, 0),
    );
    expect(written.filter((r) => r.estimated).length).toBe(upstream.seen.size - reported.length);
    expect(app.lines.join('\n')).not.toContain('are lost');
    console.log(`SIGTERM run: ${answered.length} answered, ${written.length} records, ${sent} sent`);
  });
});

describe('usage ledger through a database outage', () => {
  it('holds the records while PostgreSQL is stopped and writes them all once it is back', async () => {
    const pg = await startOwnPostgres();
    const db = knex({ client: 'pg', connection: pg.url, pool: { min: 0, max: 2 } });
    const upstream = new CountingUpstream();
    await upstream.listen();
    let app: AppProcess | undefined;
    try {
      await db.migrate.latest(migratorConfig());
      const started = await startGateway(pg.url, upstream.url, { USAGE_FLUSH_INTERVAL: '2s' });
      app = started.app;
      for (let i = 0; i < 20; i += 1)
        expect((await chat(app, started.key, 'counted', i % 2 === 0)).status).toBe(200);
      // Some may have been written before the stop; the rest are held.
      const before = Number((await db('usage_records').count<{ n: string }[]>({ n: '*' }))[0]!.n);
      await db.destroy();
      await pg.stop();
      const metrics = async () => (await fetch(`${app!.url}/metrics`)).text();
      // The outage is noticed; past a flush interval the records are still held, and the metrics say so.
      await eventually(
        async () => ((await metrics()).includes('modelgate_database_up 0') ? true : undefined),
        20_000,
        'the outage noticed',
      );
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      // (A flush may have slipped in between the count and the stop, so at most 20 - before are held.)
      const held = Number(/modelgate_buffer_pending\{buffer="usage"\} (\d+)/.exec(await metrics())![1]);
      expect(held).toBeGreaterThan(0);
      expect(held).toBeLessThanOrEqual(20 - before);
      await pg.start();
      const after = knex({ client: 'pg', connection: pg.url, pool: { min: 0, max: 2 } });
      try {
        const written = await eventually(
          async () => {
            const all = await after<Row>('usage_records').select('*');
            return all.length === 20 ? all : undefined;
          },
          30_000,
          'the held records written',
        );
        expect(written.reduce((s, r) => s + r.prompt_tokens + r.completion_tokens, 0)).toBe(
          [...upstream.reported.values()].reduce((s, c) => s + c.prompt + c.completion, 0),
        );
        expect(await metrics()).toMatch(/modelgate_buffer_pending\{buffer="usage"\} 0/);
        expect(await metrics()).toMatch(/modelgate_buffer_dropped_total\{buffer="usage"\} 0/);
      } finally {
        await app.stop();
        await after.destroy();
      }
    } finally {
      await app?.stop();
      await upstream.close();
      await pg.destroy();
    }
  });
});

// A database outage is not a gateway outage: modelgate-app (the built binary) under steady completion load while
// its PostgreSQL (this file's own: the run's shared one serves other files) is stopped for 20 s and started again.
import { setTimeout as sleep } from 'node:timers/promises';
import { createDatabase } from '../../../core/db/connection';
import { eventually } from '../../support/wait';
import type { AppProcess } from '../../support/app/app-binary';
import { startOwnPostgres, type OwnPostgres } from '../../support/own-postgres';
import type { UpstreamServer } from '../../support/api/upstream-server';
import { call, type Answer } from '../../support/http';
import {
  ADMIN_TOKEN,
  completion,
  createUser,
  embedding,
  migrate,
  startGateway,
  type Gateway,
} from './support';

jest.setTimeout(180_000);

const OUTAGE_MS = 20_000;

interface Sample {
  at: number;
  kind: 'completion' | 'stream' | 'models';
  status: number;
  ok: boolean;
}

describe('a 20 s database outage under steady completion load', () => {
  let pg: OwnPostgres;
  let gateway: Gateway;
  let upstream: UpstreamServer;
  let app: AppProcess;
  /** Load and probes run while this holds (afterAll clears it, so a failed test leaves nothing running). */
  const running = { load: true, probes: true };

  beforeAll(async () => {
    pg = await startOwnPostgres();
    await migrate(pg.url);
    gateway = await startGateway(pg.url);
    ({ app, upstream } = gateway);
  });

  afterAll(async () => {
    running.load = false;
    running.probes = false;
    await gateway?.stop();
    await pg?.destroy();
  });

  it('serves every completion of known keys, answers 503 where the database is needed, and recovers by itself', async () => {
    const owner = await createUser(app.url, 'outage-owner');
    // A key that exists but this pod has never checked: during the outage it cannot be checked.
    const unseen = await call(app.url, 'POST', '/v1/auth/keys', owner.key, { name: 'unseen' });
    expect(unseen.status).toBe(201);
    const lastUse = await call(app.url, 'POST', '/v1/auth/keys', owner.key, { name: 'last use' });

    // Steady load: four clients, each sending completions, streamed completions and model lists in turn.
    const samples: Sample[] = [];
    const client = async (n: number) => {
      for (let i = 0; running.load; i += 1) {
        const kind = (['completion', 'stream', 'models'] as const)[(i + n) % 3]!;
        const answer =
          kind === 'models'
            ? await call(app.url, 'GET', '/v1/models', owner.key)
            : await call(
                app.url,
                'POST',
                '/v1/chat/completions',
                owner.key,
                completion(`c${n}-${i}`, kind === 'stream'),
              );
        const ok =
          answer.status === 200 &&
          (kind !== 'stream' || (typeof answer.body === 'string' && answer.body.includes('data: [DONE]')));
        samples.push({ at: Date.now(), kind, status: answer.status, ok });
      }
    };
    const clients = [0, 1, 2, 3].map(client);
    // Liveness and readiness, polled throughout like a kubelet would (but more often).
    const probeFailures: string[] = [];
    const statuses: { at: number; status: string }[] = [];
    const prober = (async () => {
      while (running.probes) {
        const [live, ready, status] = await Promise.all([
          call(app.url, 'GET', '/livez'),
          call(app.url, 'GET', '/readyz'),
          call(app.url, 'GET', '/status'),
        ]);
        if (live.status !== 200) probeFailures.push(`livez ${live.status}`);
        if (ready.status !== 200) probeFailures.push(`readyz ${ready.status} ${JSON.stringify(ready.body)}`);
        statuses.push({ at: Date.now(), status: status.body.status });
        await sleep(200);
      }
    })();
    await sleep(3_000);

    // A key first used just after a last_used_at flush: its use is still pending when the database goes away.
    await eventually(
      async () => ((await call(app.url, 'GET', '/status')).body.api.pendingLastUse === 0 ? true : undefined),
      20_000,
      'last-use flush',
    );
    expect((await call(app.url, 'GET', '/v1/models', lastUse.body.key)).status).toBe(200);

    const stopping = Date.now();
    await pg.stop();
    const stopped = Date.now();
    const degraded = await eventually(
      async () => {
        const status = await call(app.url, 'GET', '/status');
        return status.body.status === 'degraded' ? status : undefined;
      },
      10_000,
      '/status degraded',
    );
    const detectedMs = Date.now() - stopped;
    expect(degraded.body.ready).toBe(true);
    expect(degraded.body.database).toMatchObject({ state: 'unreachable', outages: 1 });
    expect(degraded.body.reasons.join(' ')).toMatch(/the database is unreachable since .* s: /);
    expect(degraded.body.api.pendingLastUse).toBeGreaterThanOrEqual(1);

    // What needs the database answers 503 database_unavailable at once, with Retry-After, naming no address.
    const needsDatabase: Answer[] = await Promise.all([
      call(app.url, 'GET', '/v1/chat-history/chats', owner.key),
      call(app.url, 'POST', '/v1/chat-history/chats', owner.key, { title: 'during the outage' }),
      call(app.url, 'GET', '/v1/auth/keys', owner.key),
      call(app.url, 'POST', '/v1/auth/keys', owner.key, { name: 'new' }),
      call(app.url, 'GET', '/api/v1/admin/users', ADMIN_TOKEN),
      // A key this pod has not seen cannot be checked: 503, not 401.
      call(app.url, 'GET', '/v1/models', unseen.body.key),
      call(app.url, 'POST', '/v1/chat/completions', unseen.body.key, completion('unseen')),
      call(app.url, 'POST', '/v1/embeddings', unseen.body.key, embedding('unseen')),
    ]);
    for (const answer of needsDatabase) {
      expect({
        status: answer.status,
        code: answer.body.error?.code,
        retryAfter: answer.headers.get('retry-after'),
      }).toEqual({
        status: 503,
        code: 'database_unavailable',
        retryAfter: '5',
      });
      expect(answer.ms).toBeLessThan(1_000);
      expect(JSON.stringify(answer.body)).not.toMatch(new RegExp(`127\\.0\\.0\\.1|${pg.port}|postgres:`));
    }
    // Embeddings go through the same key check: a known key is served from memory.
    const embedded = await call(app.url, 'POST', '/v1/embeddings', owner.key, embedding('known'));
    expect({ status: embedded.status, object: embedded.body.object }).toEqual({
      status: 200,
      object: 'list',
    });
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - stopped)));
    const metrics = await call(app.url, 'GET', '/metrics');
    expect(metrics.body).toMatch(/^modelgate_database_up 0$/m);
    const unreachableFor = /^modelgate_database_unreachable_seconds (\S+)$/m.exec(metrics.body)?.[1];
    expect(Number(unreachableFor)).toBeGreaterThan((OUTAGE_MS - 5_000) / 1000);
    const restarting = Date.now();
    await pg.start();
    const returned = Date.now();
    const readyAgainMs =
      (await eventually(
        async () =>
          (await call(app.url, 'GET', '/status')).body.status === 'ready' ? Date.now() : undefined,
        15_000,
        '/status ready',
      )) - returned;
    const chatsAgainMs =
      (await eventually(
        async () =>
          (await call(app.url, 'GET', '/v1/chat-history/chats', owner.key)).status === 200
            ? Date.now()
            : undefined,
        15_000,
        'chat history answers',
      )) - returned;
    expect((await call(app.url, 'GET', '/v1/models', unseen.body.key)).status).toBe(200);
    await sleep(3_000);
    running.load = false;
    running.probes = false;
    await Promise.all([...clients, prober]);

    // The use held through the outage was written when the database came back.
    const db = createDatabase({ url: pg.url, poolMax: 1 });
    try {
      const row = await eventually(
        async () => {
          const found = await db('api_keys').where({ id: lastUse.body.id }).first('last_used_at');
          return found?.last_used_at ? found : undefined;
        },
        15_000,
        'last_used_at written',
      );
      expect(row.last_used_at).toBeInstanceOf(Date);
      // The usage ledger lost nothing: one record per request the upstream saw, those made during the outage held
      // in memory and written once the database was back.
      const recorded = async () => Number((await db('usage_records').count({ n: '*' }))[0]!.n);
      await eventually(
        async () => ((await recorded()) === upstream.requests.length ? true : undefined),
        15_000,
        'one usage record per upstream request',
      );
      expect(await recorded()).toBe(upstream.requests.length);
      const metrics = await call(app.url, 'GET', '/metrics');
      expect(metrics.body).not.toMatch(/^modelgate_buffer_dropped_total\{buffer="usage"\} [1-9]/m);
    } finally {
      await db.destroy();
    }

    const completions = samples.filter((s) => s.kind !== 'models');
    const during = samples.filter((s) => s.at >= stopping && s.at <= returned);
    const failed = samples.filter((s) => !s.ok);
    const figures = {
      requests: samples.length,
      completions: completions.length,
      duringOutage: during.length,
      failed: failed.length,
      failedCompletions: completions.filter((s) => !s.ok).length,
      stopMs: stopped - stopping,
      outageMs: restarting - stopped,
      startMs: returned - restarting,
      detectedMs,
      statusReadyAfterReturnMs: readyAgainMs,
      databaseRoutesAfterReturnMs: chatsAgainMs,
      upstreamRequests: upstream.requests.length,
    };
    console.log(`database outage figures: ${JSON.stringify(figures)}`);
    expect(failed).toEqual([]);
    expect(during.length).toBeGreaterThan(50);
    expect(probeFailures).toEqual([]);
    expect(statuses.some((s) => s.status === 'degraded')).toBe(true);
    expect(statuses.at(-1)?.status).toBe('ready');
    expect(readyAgainMs).toBeLessThan(10_000);

    // The outage is logged once when it starts and once when it ends: no error lines, no line per request.
    await app.logsWritten();
    const records = app
      .records()
      .filter((r) => Date.parse(r.time) >= stopping && r.level !== 'debug' && r.msg !== 'request');
    expect(records.filter((r) => r.level === 'error' || r.level === 'fatal')).toEqual([]);
    const messages = records.map((r) => r.msg);
    expect(messages.filter((m) => m.startsWith('database unreachable'))).toHaveLength(1);
    expect(messages.filter((m) => m === 'database reachable again')).toHaveLength(1);
    // Besides the detector's line, only the revocation listener says (once) that it lost its connection.
    expect(records.filter((r) => r.level === 'warn').map((r) => r.msg)).toEqual([
      expect.stringMatching(/^(database unreachable|API key revocation listener lost)/),
      expect.stringMatching(/^(database unreachable|API key revocation listener lost)/),
    ]);
    expect(app.lines.join('\n')).not.toContain(owner.key);
  });
});

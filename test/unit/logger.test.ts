import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  componentLogger,
  createLogger,
  LOG_BUFFER_BYTES,
  LOG_FLUSH_MS,
  logDestination,
  scrubSecrets,
} from '../../core/logger';
import { until } from '../support/wait';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, destination, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const ADMIN = 'adm1n-t0ken-0123456789abcdef0123456789';
const KEY = 'sk-ab12cd34.Zm9vYmFyYmF6cXV4cXV1eGZvb2JhcmJhenF1eHF1dXhmb28';

describe('logger', () => {
  it('writes JSON lines with component, pid, pod, level and msg', () => {
    const out = capture();
    createLogger({ component: 'init', pod: 'modelgate-7d9f-abc', destination: out.destination }).info(
      'hello',
    );
    const [record] = out.records();
    expect(record).toMatchObject({
      component: 'init',
      pid: process.pid,
      pod: 'modelgate-7d9f-abc',
      level: 'info',
      msg: 'hello',
    });
    expect(typeof record!.time).toBe('string');
  });

  it("stamps each line with its own millisecond's ISO time, also when lines share one", () => {
    const out = capture();
    const logger = createLogger({ component: 'app', destination: out.destination });
    const clock = jest.spyOn(Date, 'now');
    try {
      for (const at of [1_765_000_000_000, 1_765_000_000_000, 1_765_000_000_001, 1_765_000_061_234]) {
        clock.mockReturnValue(at);
        logger.info('tick');
      }
    } finally {
      clock.mockRestore();
    }
    expect(out.records().map((r) => r.time)).toEqual([
      '2025-12-06T05:46:40.000Z',
      '2025-12-06T05:46:40.000Z',
      '2025-12-06T05:46:40.001Z',
      '2025-12-06T05:47:41.234Z',
    ]);
  });

  it('scrubs every string argument of a call, not only the message', () => {
    const out = capture();
    const logger = createLogger({ component: 'app', destination: out.destination });
    logger.info({ at: 'x' }, 'from %s via %s', `Bearer ${KEY}`, 'postgres://u:hunter2-pass@h/db');
    expect(out.lines.join('\n')).not.toMatch(/hunter2-pass|Zm9vYmFy/);
    expect(out.records()[0]!.msg).toContain('from Bearer [redacted] via postgres://u:[redacted]@h/db');
  });

  it('redacts authorization headers, API keys, the admin token and connection-string passwords', () => {
    const out = capture();
    const logger = createLogger({ component: 'app', destination: out.destination, secrets: [ADMIN] });
    logger.info({ req: { headers: { authorization: `Bearer ${KEY}` } } }, 'request');
    logger.info({ headers: { authorization: `Bearer ${ADMIN}` } }, 'admin call');
    logger.info({ apiKey: KEY, adminToken: ADMIN, password: 'hunter2-pass' }, 'fields');
    logger.warn(`could not connect to postgres://gate:hunter2-pass@db:5432/modelgate`);
    logger.warn({ url: 'postgresql://gate:hunter2-pass@db/modelgate?sslmode=require' }, 'nested url');
    logger.info(`client sent ${KEY} and token ${ADMIN}`);
    logger.error(
      { err: new Error(`auth failed for postgres://u:hunter2-pass@h/db with Bearer ${KEY}`) },
      'boom',
    );
    const text = out.lines.join('\n');
    expect(out.lines).toHaveLength(7);
    expect(text).not.toContain('hunter2-pass');
    expect(text).not.toContain(ADMIN);
    expect(text).not.toContain('Zm9vYmFyYmF6cXV4cXV1eGZvb2JhcmJhenF1eHF1dXhmb28');
    expect(text).toContain('postgres://gate:[redacted]@db:5432/modelgate');
    expect(text).toContain('sk-ab12cd34.[redacted]');
  });

  it('scrubs free text', () => {
    expect(scrubSecrets('postgres://a:b@c/d')).toBe('postgres://a:[redacted]@c/d');
    expect(scrubSecrets('Authorization: Bearer abc.def')).toBe('Authorization: Bearer [redacted]');
    expect(scrubSecrets('no secrets here: postgres://host/db')).toBe('no secrets here: postgres://host/db');
    expect(scrubSecrets('BEARER\tabc.def')).toBe('BEARER\t[redacted]');
    expect(scrubSecrets(`id ${KEY}`)).toBe('id sk-ab12cd34.[redacted]');
  });

  it('scrubs secrets deep in arrays and objects, leaves the logged objects as they were', () => {
    const out = capture();
    const logger = createLogger({ component: 'app', destination: out.destination, secrets: [ADMIN] });
    const line = { requestId: 'r-1', route: '/v1/chat/completions', status: 200, durationMs: 1.5 };
    const nested = {
      calls: [{ note: `sent ${ADMIN}` }, { note: 'fine' }],
      at: new Date(0),
      requestId: KEY,
      key: 'top-level-key-value',
      upstream: { config: { headers: { Authorization: 'opaque-credential' }, cookie: 'c=1' }, token: 't-1' },
    };
    logger.info(line, 'request');
    logger.info(nested, 'nested');
    const [plain, deep] = out.records();
    expect(plain).toMatchObject(line);
    expect(deep).toMatchObject({
      calls: [{ note: 'sent [redacted]' }, { note: 'fine' }],
      requestId: 'sk-ab12cd34.[redacted]',
      key: '[redacted]',
      upstream: {
        config: { headers: { Authorization: '[redacted]' }, cookie: '[redacted]' },
        token: '[redacted]',
      },
    });
    expect(nested.calls[0]!.note).toBe(`sent ${ADMIN}`);
    expect(nested.requestId).toBe(KEY);
  });
});

describe("logDestination (the app's stdout)", () => {
  let dir: string;
  let fd: number;
  let destination: ReturnType<typeof logDestination>;
  const file = () => path.join(dir, 'out.log');
  const written = () => fs.readFileSync(file(), 'utf8').split('\n').filter(Boolean);
  const ids = () => written().map((line) => (JSON.parse(line) as { requestId: string }).requestId);

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelgate-log-'));
    fd = fs.openSync(file(), 'a');
    destination = logDestination(fd);
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    // The destination closes its descriptor once what is pending is written.
    const closed = new Promise((resolve) => destination.once('close', resolve));
    destination.end();
    await closed;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes the lines of an idle pod together, once the flush interval is over, not one write each', async () => {
    const writes = jest.spyOn(fs, 'write');
    const logger = createLogger({ component: 'app', destination });
    // One access-log line per turn of the event loop, as a pod serving one request at a time writes them.
    for (let i = 0; i < 20; i += 1) {
      logger.info({ requestId: `r-${i}`, status: 200 }, 'request');
      await nextTurn();
    }
    expect(written()).toEqual([]);
    await until(() => written().length === 20, 10 * LOG_FLUSH_MS + 2_000, 10);
    expect(ids()).toEqual(Array.from({ length: 20 }, (_, i) => `r-${i}`));
    // Other code in the test process writes too: only the calls on this destination's descriptor count.
    expect(writes.mock.calls.filter(([target]) => target === fd)).toHaveLength(1);
  });

  it('makes no write while nothing is logged', async () => {
    const writes = jest.spyOn(fs, 'write');
    createLogger({ component: 'app', destination }).info('one line');
    await until(() => written().length === 1, 10 * LOG_FLUSH_MS + 2_000, 10);
    const afterLine = writes.mock.calls.filter(([target]) => target === fd).length;
    await new Promise((resolve) => setTimeout(resolve, 5 * LOG_FLUSH_MS));
    expect(writes.mock.calls.filter(([target]) => target === fd).length).toBe(afterLine);
  });

  it('starts a write at once when LOG_BUFFER_BYTES are pending, without waiting for the interval', async () => {
    const writes = jest.spyOn(fs, 'write');
    const logger = createLogger({ component: 'app', destination });
    const filler = 'x'.repeat(200);
    const count = Math.ceil(LOG_BUFFER_BYTES / 200) + 1;
    for (let i = 0; i < count; i += 1) logger.info({ requestId: `r-${i}`, filler }, 'request');
    expect(writes.mock.calls.filter(([target]) => target === fd).length).toBeGreaterThan(0);
    await until(() => written().length === count, 10 * LOG_FLUSH_MS + 2_000, 10);
    expect(ids()).toEqual(Array.from({ length: count }, (_, i) => `r-${i}`));
  });
});

describe('componentLogger', () => {
  it('replaces component instead of repeating it, keeping destination and redaction', () => {
    const out = capture();
    const root = createLogger({ component: 'app', destination: out.destination, secrets: [ADMIN] });
    componentLogger(root, 'api').info(`token ${ADMIN}`);
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]!.match(/"component"/g)).toHaveLength(1);
    expect(out.records()[0]).toMatchObject({ component: 'api', msg: 'token [redacted]' });
  });
});

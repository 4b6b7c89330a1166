import { Writable } from 'node:stream';
import { componentLogger, createLogger, scrubSecrets } from '../../core/logger';

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

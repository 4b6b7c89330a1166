import {
  ConfigError,
  loadConfig,
  loadConfigOrExit,
  parseDuration,
  parseSize,
  formatDuration,
  type Binary,
} from '../../core/config';

const base = { DATABASE_URL: 'postgres://gate:s3cret-pass@db.internal:5432/modelgate' };

function problemsOf(env: NodeJS.ProcessEnv, binary: Binary = 'app'): string[] {
  try {
    loadConfig(binary, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => p.message);
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('durations and sizes', () => {
  it.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    ['7d', 604_800_000],
    ['1.5s', 1_500],
    ['0', 0],
  ])('parses %s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '30', 's', '5 minutes', '-5s', '5x', 'm5'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('formats back to the largest exact unit', () => {
    expect(formatDuration(90_000)).toBe('90s');
    expect(formatDuration(300_000)).toBe('5m');
    expect(formatDuration(1_500)).toBe('1500ms');
  });

  it('parses sizes', () => {
    expect(parseSize('1mib')).toBe(1_048_576);
    expect(parseSize('512kb')).toBe(512_000);
    expect(parseSize('100')).toBe(100);
    expect(parseSize('1 gigabyte')).toBeUndefined();
  });
});

describe('loadConfig', () => {
  it('applies documented defaults and derives MIGRATION_DATABASE_URL', () => {
    const init = loadConfig('init', base);
    expect(init.database.migrationUrl).toBe(base.DATABASE_URL);
    expect(init.database.waitTimeoutMs).toBe(60_000);
    expect(init.models.file).toBe('/var/run/modelgate/models.json');
    expect(init.models.maxStaleMs).toBe(7 * 86_400_000);
    expect(init.models.configMap).toBeUndefined();
    const app = loadConfig('app', base);
    expect(app.http.port).toBe(8080);
    expect(app.upstream.modelField).toBe('upstream_id');
    expect(app.models.maxStaleMs).toBe(7 * 86_400_000);
  });

  it('parses every kind of value', () => {
    const env = {
      ...base,
      MIGRATION_DATABASE_URL: 'postgresql://gate:x@db-direct:5432/modelgate',
      MODELS_CONFIGMAP: 'ai-gateway/modelgate-models',
      MODEL_SOURCE_URL: 'file:///etc/models.json',
      SHUTDOWN_DELAY: '2s',
      PORT: '0',
      LOG_LEVEL: 'debug',
      BODY_LIMIT: '2mib',
    };
    const init = loadConfig('init', env);
    expect(init.database.migrationUrl).toContain('db-direct');
    expect(init.models.configMap).toEqual({ namespace: 'ai-gateway', name: 'modelgate-models' });
    expect(init.modelSource.url).toBe('file:///etc/models.json');
    const app = loadConfig('app', env);
    expect(app.shutdown.delayMs).toBe(2_000);
    expect(app.http.port).toBe(0);
    expect(app.http.bodyLimit).toBe(2 * 1_048_576);
  });

  it('is frozen all the way down', () => {
    const config = loadConfig('app', base);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.database)).toBe(true);
    expect(() => {
      (config.database as { url: string }).url = 'x';
    }).toThrow(TypeError);
  });

  it('names a missing required variable and the expected form', () => {
    expect(problemsOf({})).toEqual([
      'DATABASE_URL is required but not set; expected postgres://user:password@host:5432/database',
    ]);
  });

  it('rejects malformed values instead of falling back to the default', () => {
    const env = { ...base, DB_WAIT_TIMEOUT: '30', PORT: '80a', MODELS_CONFIGMAP: 'just-a-name' };
    expect(problemsOf(env, 'init')).toEqual([
      'DB_WAIT_TIMEOUT is not a duration (got "30"); expected a duration such as 30s, 5m',
      'MODELS_CONFIGMAP is not a namespace/name reference (got "just-a-name"); expected namespace/name, e.g. default/modelgate-models',
    ]);
    expect(problemsOf(env, 'app')).toEqual([
      'PORT is not an integer between 0 and 65535 (got "80a"); expected a port from 0 to 65535',
    ]);
  });

  it('rejects an unsupported URL scheme', () => {
    expect(problemsOf({ ...base, MODEL_SOURCE_URL: 'ftp://models.example/list.json' }, 'init')[0]).toMatch(
      /^MODEL_SOURCE_URL has the unsupported scheme ftp:/,
    );
  });

  it('never prints a secret value', () => {
    const problems = problemsOf({
      DATABASE_URL: 'mysql://root:hunter2-secret@db/x',
      ADMIN_TOKEN: 'short-but-secret',
    });
    expect(problems.join('\n')).not.toMatch(/hunter2|short-but-secret/);
    expect(problems).toEqual([
      'DATABASE_URL has the unsupported scheme mysql: (value hidden); expected postgres://user:password@host:5432/database',
      'ADMIN_TOKEN is shorter than 32 characters (value hidden); expected a random token of at least 32 characters',
    ]);
  });

  it('shows a rejected MODEL_SOURCE_URL without its password or token', () => {
    const problems = problemsOf(
      {
        ...base,
        MODEL_SOURCE_URL: 'ftp://reader:pw-hunter3@models.example/list.json?token=tok-hunter4',
        MODEL_SOURCE_RETRIES: 'x',
      },
      'init',
    );
    expect(problems.join('\n')).not.toMatch(/hunter3|hunter4/);
    expect(problems[0]).toBe(
      'MODEL_SOURCE_URL has the unsupported scheme ftp: (got "ftp://models.example/list.json"); expected an https://, http:// or file:// URL',
    );
    // Without an authority there is no telling the secret from the rest: nothing of it is shown.
    expect(problemsOf({ ...base, MODEL_SOURCE_URL: 'reader:pw-hunter3@models.example' }, 'init')).toEqual([
      'MODEL_SOURCE_URL has the unsupported scheme reader: (value hidden); expected an https://, http:// or file:// URL',
    ]);
  });

  it('bounds the database by default and refuses an unbounded 0, while KEY_CACHE_OUTAGE_TTL=0 turns it off', () => {
    const config = loadConfig('app', base);
    expect(config.database).toMatchObject({ connectTimeoutMs: 5_000, queryTimeoutMs: 10_000 });
    expect(config.keys.cacheOutageTtlMs).toBe(300_000);
    expect(loadConfig('app', { ...base, KEY_CACHE_OUTAGE_TTL: '0' }).keys.cacheOutageTtlMs).toBe(0);
    expect(problemsOf({ ...base, DB_CONNECT_TIMEOUT: '0', DB_QUERY_TIMEOUT: '0' })).toEqual([
      'DB_CONNECT_TIMEOUT must be longer than 0 (got "0"); expected a duration such as 5s',
      'DB_QUERY_TIMEOUT must be longer than 0 (got "0"); expected a duration such as 10s',
    ]);
  });

  it('rejects contradictory pool settings at construction', () => {
    expect(problemsOf({ ...base, DB_POOL_MIN: '20', DB_POOL_MAX: '5' })[0]).toMatch(
      /DB_POOL_MIN \(20\) is above DB_POOL_MAX/,
    );
  });
});

describe('loadConfigOrExit', () => {
  it('prints one line per problem and exits 2', () => {
    const writes: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      writes.push(String(chunk));
      return true;
    });
    const exit = jest.fn((code: number): never => {
      throw new Error(`exit ${code}`);
    });
    try {
      expect(() => loadConfigOrExit('app', { DATABASE_URL: 'not-a-url', PORT: 'x' }, exit)).toThrow('exit 2');
    } finally {
      spy.mockRestore();
    }
    expect(exit).toHaveBeenCalledWith(2);
    expect(writes).toHaveLength(2);
    expect(writes[0]).toMatch(/^modelgate: configuration error: DATABASE_URL is not a URL/);
    expect(writes.every((line) => line.endsWith('\n') && line.split('\n').length === 2)).toBe(true);
  });
});

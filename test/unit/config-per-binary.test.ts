import {
  configBuilders,
  ConfigError,
  loadConfig,
  parseVariables,
  variables,
  variablesOf,
  type Binary,
  type VariableName,
} from '../../core/config';
import type { EnvOf, VariableSpec } from '../../core/config/variables';

const BINARIES: readonly Binary[] = ['app', 'init'];
const NAMES = Object.keys(variables) as VariableName[];
const base = { DATABASE_URL: 'postgres://gate:pw@db.internal:5432/modelgate' };
/** Rejected by every variable's schema except the free-text ones. */
const INVALID = 'not valid!';

/** A valid value for every variable, so that optional ones are present too. */
const everyVariableValid: Record<VariableName, string> = {
  DATABASE_URL: base.DATABASE_URL,
  MIGRATION_DATABASE_URL: 'postgres://gate:pw@db-direct:5432/modelgate',
  DB_POOL_MIN: '1',
  DB_POOL_MAX: '5',
  DB_CONNECT_TIMEOUT: '2s',
  DB_QUERY_TIMEOUT: '3s',
  KEY_CACHE_OUTAGE_TTL: '1m',
  DB_WAIT_TIMEOUT: '5s',
  MIGRATION_LOCK_TIMEOUT: '5s',
  MODELS_LOCK_TIMEOUT: '5s',
  WAIT_TIMEOUT: '5s',
  MODEL_SOURCE_URL: 'https://models.example.test/m.json',
  MODEL_SOURCE_FORMAT: 'morpheus',
  MODEL_SOURCE_TIMEOUT: '5s',
  MODEL_SOURCE_MAX_BYTES: '1mib',
  MODEL_SOURCE_RETRIES: '1',
  MODELS_FALLBACK_AFTER: '1s',
  MODELS_FILE: '/run/models.json',
  MODELS_CONFIGMAP: 'ns/models',
  MODELS_CONFIGMAP_DIR: '/cm',
  MODELS_MAX_AGE: '1m',
  MODELS_MAX_STALE: '1h',
  ROUTING_FILE: '/etc/modelgate/routing/routing.yaml',
  UPSTREAM_URL: 'https://upstream.example.test',
  UPSTREAM_API_KEY: 'key',
  UPSTREAM_TIMEOUT: '5s',
  UPSTREAM_MODEL_FIELD: 'name',
  DEFAULT_MODEL: 'm',
  HOST: '127.0.0.1',
  PORT: '0',
  BODY_LIMIT: '1kb',
  LOG_LEVEL: 'warn',
  SHUTDOWN_DELAY: '0s',
  SHUTDOWN_TIMEOUT: '1s',
  ADMIN_TOKEN: 'a'.repeat(32),
  LIMITS_ON_STORE_ERROR: 'closed',
  LIMITS_POLICY_CACHE_TTL: '5s',
  LIMITS_DEFAULT_COMPLETION_TOKENS: '256',
  USAGE_LEDGER: 'off',
  USAGE_FLUSH_INTERVAL: '2s',
  USAGE_BATCH_SIZE: '100',
  USAGE_BUFFER_MAX: '1000',
  USAGE_RETENTION: '30d',
  USAGE_PRUNE_BATCH: '1000',
  HOSTNAME: 'pod-1',
};

const acceptsInvalid = (name: VariableName) =>
  (variables[name] as VariableSpec<unknown>).schema.safeParse(INVALID).success;

function problemVariables(binary: Binary, env: NodeJS.ProcessEnv): VariableName[] {
  try {
    loadConfig(binary, env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => p.variable);
    throw error;
  }
}

describe('each binary validates exactly the variables its usedBy lists', () => {
  it('every variable is read by some binary', () => {
    expect(new Set([...variablesOf('app'), ...variablesOf('init')]).size).toBe(NAMES.length);
  });

  it('the probe value is invalid for every variable but the free-text ones', () => {
    expect(NAMES.filter(acceptsInvalid).sort()).toEqual([
      'DEFAULT_MODEL',
      'HOST',
      'HOSTNAME',
      'UPSTREAM_API_KEY',
    ]);
  });

  it.each(BINARIES)('%s starts with every variable it does not read set to an invalid value', (binary) => {
    const others = NAMES.filter((name) => !variablesOf(binary).includes(name));
    expect(others.length).toBeGreaterThan(3);
    const env = { ...base, ...Object.fromEntries(others.map((name) => [name, INVALID])) };
    expect(problemVariables(binary, env)).toEqual([]);
  });

  it.each(BINARIES)('%s refuses an invalid value of each variable it reads, naming it', (binary) => {
    for (const name of variablesOf(binary).filter((n) => !acceptsInvalid(n)))
      expect(problemVariables(binary, { ...base, [name]: INVALID })).toEqual([name]);
  });

  it.each(BINARIES)('%s builds its config from exactly its variables, no more and no fewer', (binary) => {
    const read = new Set<string | symbol>();
    const values = parseVariables(binary, everyVariableValid);
    const watched = new Proxy(values, {
      get(target, key, receiver) {
        read.add(key);
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    (configBuilders[binary] as (values: EnvOf<typeof binary>) => unknown)(watched);
    expect([...read].map(String).sort()).toEqual([...variablesOf(binary)].sort());
  });

  it('gives each binary a config type without the settings of the other', () => {
    const init = loadConfig('init', base);
    const app = loadConfig('app', base);
    // @ts-expect-error UPSTREAM_* are app variables: init's config has no upstream section
    expect(init.upstream).toBeUndefined();
    // @ts-expect-error MODELS_CONFIGMAP_DIR is read by the app only
    expect(init.models.configMapDir).toBeUndefined();
    // @ts-expect-error MODEL_SOURCE_* are init variables
    expect(app.modelSource).toBeUndefined();
    // @ts-expect-error MIGRATION_DATABASE_URL is read by init only
    expect(app.database.migrationUrl).toBeUndefined();
    // A builder only gets its own binary's values: reading another's does not compile.
    // @ts-expect-error UPSTREAM_TIMEOUT is not among init's variables
    const readsOther = (values: EnvOf<'init'>) => values.UPSTREAM_TIMEOUT;
    expect(readsOther(parseVariables('init', base))).toBeUndefined();
  });
});

import { variables, type Env, type VariableName, type VariableSpec } from './variables';

export { variables } from './variables';
export { parseDuration, formatDuration, parseSize } from './duration';

export interface Config {
  database: {
    url: string;
    migrationUrl: string;
    poolMin: number;
    poolMax: number;
    waitTimeoutMs: number;
    lockTimeoutMs: number;
  };
  modelSource: {
    url: string | undefined;
    format: 'morpheus';
    timeoutMs: number;
    maxBytes: number;
    retries: number;
  };
  models: {
    file: string;
    configMap: { namespace: string; name: string } | undefined;
    configMapDir: string | undefined;
    maxAgeMs: number;
    maxStaleMs: number;
    /** MODELS_FALLBACK_AFTER: the source's whole allowance when a last-known-good artifact is held. */
    fallbackAfterMs: number;
    /** MODELS_LOCK_TIMEOUT: bound on waiting for the single-flight models lock. */
    lockTimeoutMs: number;
    /** WAIT_TIMEOUT: bound of `modelgate-init wait`. */
    waitTimeoutMs: number;
  };
  /** ROUTING_FILE; unset: the UPSTREAM_URL shorthand, or no upstream. */
  routing: { file: string | undefined };
  upstream: {
    url: string | undefined;
    apiKey: string | undefined;
    timeoutMs: number;
    modelField: 'upstream_id' | 'name';
  };
  defaultModel: string | undefined;
  http: { host: string; port: number; bodyLimit: number };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  shutdown: { delayMs: number; timeoutMs: number };
  adminToken: string | undefined;
  usage: {
    /** USAGE_LEDGER */
    ledger: boolean;
    flushIntervalMs: number;
    batchSize: number;
    /** USAGE_BUFFER_MAX */
    maxPending: number;
    /** USAGE_RETENTION and USAGE_PRUNE_BATCH (modelgate-init prune-usage). */
    retentionMs: number;
    pruneBatch: number;
  };
  limits: {
    onStoreError: 'open' | 'closed';
    policyCacheTtlMs: number;
    defaultCompletionTokens: number;
  };
  pod: string;
}

/** One problem per rejected variable; `message` is a single line that never contains a secret. */
export interface ConfigProblem {
  variable: VariableName;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(problems.map((p) => p.message).join('\n'));
    this.name = 'ConfigError';
  }
}

function shown(name: VariableName, raw: string): string {
  if ((variables[name] as VariableSpec<unknown>).secret) return 'value hidden';
  const clipped = raw.length > 60 ? `${raw.slice(0, 57)}...` : raw;
  return `got ${JSON.stringify(clipped)}`;
}

function parseEnv(env: NodeJS.ProcessEnv): Env {
  const values: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [];
  for (const [name, spec] of Object.entries(variables) as [VariableName, VariableSpec<unknown>][]) {
    const given = env[name];
    const raw = given === undefined || given.trim() === '' ? spec.default : given;
    if (raw === undefined) {
      if (spec.required) {
        problems.push({
          variable: name,
          message: `${name} is required but not set; expected ${spec.expected}`,
        });
      }
      continue;
    }
    const result = spec.schema.safeParse(raw);
    if (result.success) {
      values[name] = result.data;
    } else {
      const why = result.error.issues[0]?.message ?? 'is invalid';
      problems.push({
        variable: name,
        message: `${name} ${why} (${shown(name, raw)}); expected ${spec.expected}`,
      });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return values as Env;
}

/** Parses the environment once into a frozen, typed configuration. Throws ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const e = parseEnv(env);
  const config: Config = {
    database: {
      url: e.DATABASE_URL,
      migrationUrl: e.MIGRATION_DATABASE_URL ?? e.DATABASE_URL,
      poolMin: e.DB_POOL_MIN,
      poolMax: e.DB_POOL_MAX,
      waitTimeoutMs: e.DB_WAIT_TIMEOUT,
      lockTimeoutMs: e.MIGRATION_LOCK_TIMEOUT,
    },
    modelSource: {
      url: e.MODEL_SOURCE_URL,
      format: e.MODEL_SOURCE_FORMAT,
      timeoutMs: e.MODEL_SOURCE_TIMEOUT,
      maxBytes: e.MODEL_SOURCE_MAX_BYTES,
      retries: e.MODEL_SOURCE_RETRIES,
    },
    models: {
      file: e.MODELS_FILE,
      configMap: e.MODELS_CONFIGMAP,
      configMapDir: e.MODELS_CONFIGMAP_DIR,
      maxAgeMs: e.MODELS_MAX_AGE,
      maxStaleMs: e.MODELS_MAX_STALE,
      fallbackAfterMs: e.MODELS_FALLBACK_AFTER,
      lockTimeoutMs: e.MODELS_LOCK_TIMEOUT,
      waitTimeoutMs: e.WAIT_TIMEOUT,
    },
    routing: { file: e.ROUTING_FILE },
    upstream: {
      url: e.UPSTREAM_URL,
      apiKey: e.UPSTREAM_API_KEY,
      timeoutMs: e.UPSTREAM_TIMEOUT,
      modelField: e.UPSTREAM_MODEL_FIELD,
    },
    defaultModel: e.DEFAULT_MODEL,
    http: { host: e.HOST, port: e.PORT, bodyLimit: e.BODY_LIMIT },
    logLevel: e.LOG_LEVEL,
    shutdown: { delayMs: e.SHUTDOWN_DELAY, timeoutMs: e.SHUTDOWN_TIMEOUT },
    adminToken: e.ADMIN_TOKEN,
    usage: {
      ledger: e.USAGE_LEDGER === 'on',
      flushIntervalMs: e.USAGE_FLUSH_INTERVAL,
      batchSize: e.USAGE_BATCH_SIZE,
      maxPending: e.USAGE_BUFFER_MAX,
      retentionMs: e.USAGE_RETENTION,
      pruneBatch: e.USAGE_PRUNE_BATCH,
    },
    limits: {
      onStoreError: e.LIMITS_ON_STORE_ERROR,
      policyCacheTtlMs: e.LIMITS_POLICY_CACHE_TTL,
      defaultCompletionTokens: e.LIMITS_DEFAULT_COMPLETION_TOKENS,
    },
    pod: e.HOSTNAME ?? 'local',
  };
  if (config.database.poolMin > config.database.poolMax) {
    throw new ConfigError([
      {
        variable: 'DB_POOL_MIN',
        message: `DB_POOL_MIN (${config.database.poolMin}) is above DB_POOL_MAX (${config.database.poolMax}); expected DB_POOL_MIN <= DB_POOL_MAX`,
      },
    ]);
  }
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** For the binaries: load the configuration, or print each problem on one line and exit 2. */
export function loadConfigOrExit(
  env: NodeJS.ProcessEnv = process.env,
  exit: (code: number) => never = process.exit,
): Readonly<Config> {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems)
      process.stderr.write(`modelgate: configuration error: ${problem.message}\n`);
    return exit(2);
  }
}

import {
  variables,
  variablesOf,
  type Binary,
  type EnvOf,
  type VariableName,
  type VariableSpec,
} from './variables';

export { variables, variablesOf, type Binary, type VariableName } from './variables';
export { parseDuration, formatDuration, parseSize } from './duration';

type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** What modelgate-app reads: built from the app's variables only (`usedBy` includes 'app'). */
export interface AppConfig {
  database: {
    url: string;
    poolMin: number;
    poolMax: number;
    /** DB_CONNECT_TIMEOUT: bound on opening a connection and on waiting for a pooled one. */
    connectTimeoutMs: number;
    /** DB_QUERY_TIMEOUT: client-side bound on one query. */
    queryTimeoutMs: number;
  };
  keys: {
    /** KEY_CACHE_OUTAGE_TTL: how old a confirmed key may be to be accepted from memory during an outage. */
    cacheOutageTtlMs: number;
  };
  models: {
    file: string;
    configMapDir: string | undefined;
    /** MODELS_MAX_AGE and MODELS_MAX_STALE: what /status calls fresh, stale or expired. */
    maxAgeMs: number;
    maxStaleMs: number;
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
  logLevel: LogLevel;
  shutdown: { delayMs: number; timeoutMs: number };
  adminToken: string | undefined;
  usage: {
    /** USAGE_LEDGER */
    ledger: boolean;
    flushIntervalMs: number;
    batchSize: number;
    /** USAGE_BUFFER_MAX */
    maxPending: number;
  };
  limits: {
    onStoreError: 'open' | 'closed';
    policyCacheTtlMs: number;
    defaultCompletionTokens: number;
  };
  pod: string;
}

/** What modelgate-init reads: built from init's variables only (`usedBy` includes 'init'). */
export interface InitConfig {
  database: {
    url: string;
    migrationUrl: string;
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
    maxAgeMs: number;
    maxStaleMs: number;
    /** MODELS_FALLBACK_AFTER: the source's whole allowance when a last-known-good artifact is held. */
    fallbackAfterMs: number;
    /** MODELS_LOCK_TIMEOUT: bound on waiting for the single-flight models lock. */
    lockTimeoutMs: number;
    /** WAIT_TIMEOUT: bound of `modelgate-init wait`. */
    waitTimeoutMs: number;
  };
  logLevel: LogLevel;
  usage: {
    /** USAGE_RETENTION and USAGE_PRUNE_BATCH (modelgate-init prune-usage). */
    retentionMs: number;
    pruneBatch: number;
  };
  pod: string;
}

export type ConfigOf<B extends Binary> = B extends 'app' ? AppConfig : InitConfig;

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
  const spec = variables[name] as VariableSpec<unknown>;
  const text = spec.secret ? undefined : spec.redact ? spec.redact(raw) : raw;
  if (text === undefined) return 'value hidden';
  const clipped = text.length > 60 ? `${text.slice(0, 57)}...` : text;
  return `got ${JSON.stringify(clipped)}`;
}

/** Parses exactly the variables `binary` reads; the others are never looked at. Exported for the usedBy test. */
export function parseVariables<B extends Binary>(binary: B, env: NodeJS.ProcessEnv): EnvOf<B> {
  const values: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [];
  for (const name of variablesOf(binary)) {
    const spec = variables[name] as VariableSpec<unknown>;
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
  return values as EnvOf<B>;
}

function appConfig(e: EnvOf<'app'>): AppConfig {
  const config: AppConfig = {
    database: {
      url: e.DATABASE_URL,
      poolMin: e.DB_POOL_MIN,
      poolMax: e.DB_POOL_MAX,
      connectTimeoutMs: e.DB_CONNECT_TIMEOUT,
      queryTimeoutMs: e.DB_QUERY_TIMEOUT,
    },
    keys: { cacheOutageTtlMs: e.KEY_CACHE_OUTAGE_TTL },
    models: {
      file: e.MODELS_FILE,
      configMapDir: e.MODELS_CONFIGMAP_DIR,
      maxAgeMs: e.MODELS_MAX_AGE,
      maxStaleMs: e.MODELS_MAX_STALE,
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
  return config;
}

function initConfig(e: EnvOf<'init'>): InitConfig {
  return {
    database: {
      url: e.DATABASE_URL,
      migrationUrl: e.MIGRATION_DATABASE_URL ?? e.DATABASE_URL,
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
      maxAgeMs: e.MODELS_MAX_AGE,
      maxStaleMs: e.MODELS_MAX_STALE,
      fallbackAfterMs: e.MODELS_FALLBACK_AFTER,
      lockTimeoutMs: e.MODELS_LOCK_TIMEOUT,
      waitTimeoutMs: e.WAIT_TIMEOUT,
    },
    usage: { retentionMs: e.USAGE_RETENTION, pruneBatch: e.USAGE_PRUNE_BATCH },
    logLevel: e.LOG_LEVEL,
    pod: e.HOSTNAME ?? 'local',
  };
}

/**
 * Each binary's config, built from its own variables alone (the parameter's type has no others), so code cannot
 * read a setting its binary never validated. Exported for the usedBy test.
 */
export const configBuilders: { [B in Binary]: (values: EnvOf<B>) => ConfigOf<B> } = {
  app: appConfig,
  init: initConfig,
};

/**
 * Parses the variables `binary` reads (and only those: an app-only mistake never stops init, nor the reverse) into
 * a frozen, typed configuration. Throws ConfigError listing every problem.
 */
export function loadConfig<B extends Binary>(
  binary: B,
  env: NodeJS.ProcessEnv = process.env,
): Readonly<ConfigOf<B>> {
  return deepFreeze(configBuilders[binary](parseVariables(binary, env)));
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** For the binaries: load the configuration, or print each problem on one line and exit 2. */
export function loadConfigOrExit<B extends Binary>(
  binary: B,
  env: NodeJS.ProcessEnv = process.env,
  exit: (code: number) => never = process.exit,
): Readonly<ConfigOf<B>> {
  try {
    return loadConfig(binary, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems)
      process.stderr.write(`modelgate: configuration error: ${problem.message}\n`);
    return exit(2);
  }
}

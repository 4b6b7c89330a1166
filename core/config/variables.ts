import * as z from 'zod';
import { redactSourceUrl } from '../artifact/source-url';
import { parseDuration, parseSize } from './duration';

/** The two executables; each validates exactly the variables whose `usedBy` names it. */
export type Binary = 'app' | 'init';

/**
 * Every environment variable modelgate reads, in one place. The README's configuration table is generated from
 * this list (`npm run docs:config`) and a test fails when the two drift apart.
 */
export interface VariableSpec<T> {
  /** Short type shown in the README and in error messages. */
  type: string;
  /** The accepted form, shown when a value is rejected. */
  expected: string;
  /** Raw default applied when the variable is unset or empty; `undefined` means optional with no value. */
  default?: string;
  required?: boolean;
  /** Never echo the value (passwords, tokens). */
  secret?: boolean;
  /** For a value that may carry a secret: what a rejection shows of it (undefined: nothing). */
  redact?: (raw: string) => string | undefined;
  /**
   * Which binaries read it: the one truth for what each validates (core/config/index.ts parses only these, and each
   * binary's config is built from its own variables alone).
   */
  usedBy: readonly Binary[];
  doc: string;
  schema: z.ZodType<T, string>;
}

function spec<const S extends VariableSpec<unknown>>(s: S): S {
  return s;
}

const duration = z.string().transform((raw, ctx) => {
  const ms = parseDuration(raw);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'is not a duration' });
    return z.NEVER;
  }
  return ms;
});

const positiveDuration = duration.refine((ms) => ms > 0, { message: 'must be longer than 0' });

const size = z.string().transform((raw, ctx) => {
  const bytes = parseSize(raw);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: 'is not a size' });
    return z.NEVER;
  }
  return bytes;
});

const integer = (min: number, max: number) =>
  z.string().transform((raw, ctx) => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `is not an integer between ${min} and ${max}` });
      return z.NEVER;
    }
    return n;
  });

const url = (protocols: readonly string[]) =>
  z.string().transform((raw, ctx) => {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not a URL' });
      return z.NEVER;
    }
    if (!protocols.includes(parsed.protocol)) {
      ctx.addIssue({ code: 'custom', message: `has the unsupported scheme ${parsed.protocol}` });
      return z.NEVER;
    }
    return raw;
  });

const postgresUrl = url(['postgres:', 'postgresql:']);

/** Whether `raw` parses as a URL with a `//` authority, where any secret sits in parts redaction removes. */
function hasAuthority(raw: string): boolean {
  try {
    return new URL(raw).host !== '';
  } catch {
    return false;
  }
}

const configMapRef = z.string().transform((raw, ctx) => {
  const match = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(raw.trim());
  if (!match) {
    ctx.addIssue({ code: 'custom', message: 'is not a namespace/name reference' });
    return z.NEVER;
  }
  return { namespace: match[1]!, name: match[3]! };
});

const oneOf = <T extends string>(values: readonly [T, ...T[]]) =>
  z.string().transform((raw, ctx) => {
    const value = raw.trim() as T;
    if (!values.includes(value)) {
      ctx.addIssue({ code: 'custom', message: 'is not one of the accepted values' });
      return z.NEVER;
    }
    return value;
  });

const text = z.string();
const token = z.string().refine((v) => v.length >= 32, { message: 'is shorter than 32 characters' });

export const variables = {
  DATABASE_URL: spec({
    type: 'postgres URL',
    expected: 'postgres://user:password@host:5432/database',
    required: true,
    secret: true,
    usedBy: ['app', 'init'],
    doc: 'Connection string of the PostgreSQL database (may point at a transaction-mode pooler).',
    schema: postgresUrl,
  }),
  MIGRATION_DATABASE_URL: spec({
    type: 'postgres URL',
    expected: 'postgres://user:password@host:5432/database',
    secret: true,
    usedBy: ['init'],
    doc: 'Direct (session-mode) connection for migrations and advisory locks; defaults to DATABASE_URL.',
    schema: postgresUrl,
  }),
  DB_POOL_MIN: spec({
    type: 'integer',
    expected: 'an integer from 0 to 100',
    default: '0',
    usedBy: ['app'],
    doc: 'Minimum connections kept in the pool.',
    schema: integer(0, 100),
  }),
  DB_POOL_MAX: spec({
    type: 'integer',
    expected: 'an integer from 1 to 100',
    default: '10',
    usedBy: ['app'],
    doc: 'Maximum connections in the pool of one process.',
    schema: integer(1, 100),
  }),
  DB_CONNECT_TIMEOUT: spec({
    type: 'duration',
    expected: 'a duration such as 5s',
    default: '5s',
    usedBy: ['app'],
    doc: 'Bound on getting a database connection: opening one (a server that accepts and never answers included) or waiting for a free one in the pool. With DB_QUERY_TIMEOUT it bounds how long a request waits for the database.',
    schema: positiveDuration,
  }),
  DB_QUERY_TIMEOUT: spec({
    type: 'duration',
    expected: 'a duration such as 10s',
    default: '10s',
    usedBy: ['app'],
    doc: "Client-side bound on one query of the app (also when the server never answers, which the server's statement_timeout cannot end); then the request answers 503 database_unavailable.",
    schema: positiveDuration,
  }),
  KEY_CACHE_OUTAGE_TTL: spec({
    type: 'duration',
    expected: 'a duration such as 5m, or 0 to turn it off',
    default: '5m',
    usedBy: ['app'],
    doc: 'While the database is unreachable, an API key the database confirmed within this time is accepted from memory (models, chat completions, embeddings); other keys get 503 database_unavailable. 0: every key check fails with 503 during an outage.',
    schema: duration,
  }),
  DB_WAIT_TIMEOUT: spec({
    type: 'duration',
    expected: 'a duration such as 30s, 5m',
    default: '60s',
    usedBy: ['init'],
    doc: 'How long init waits for the database to accept connections before it exits 1.',
    schema: duration,
  }),
  MIGRATION_LOCK_TIMEOUT: spec({
    type: 'duration',
    expected: 'a duration such as 30s, 5m',
    default: '120s',
    usedBy: ['init'],
    doc: 'How long init waits for the migration advisory lock before it exits 3.',
    schema: duration,
  }),
  MODELS_LOCK_TIMEOUT: spec({
    type: 'duration',
    expected: 'a duration such as 60s, 5m',
    default: '120s',
    usedBy: ['init'],
    doc: 'How long init waits for the single-flight models lock (another pod fetching the model list) before it exits 3; also bounds, at 10 s at most, its wait for the scout lock (another pod reading the cache), after which it reads anyway.',
    schema: duration,
  }),
  WAIT_TIMEOUT: spec({
    type: 'duration',
    expected: 'a duration such as 5m, 15m',
    default: '10m',
    usedBy: ['init'],
    doc: '`modelgate-init wait`: how long to wait for the newest migration and a valid artifact in the ConfigMap before it exits 1.',
    schema: duration,
  }),
  MODEL_SOURCE_URL: spec({
    type: 'URL',
    expected: 'an https://, http:// or file:// URL',
    usedBy: ['init'],
    doc: 'Where the model list comes from. Required by `modelgate-init models`, `all` and `refresh`. A `user:password@` or query in it is sent to the source, but stored, shown and logged without them.',
    redact: (raw) => (hasAuthority(raw) ? redactSourceUrl(raw) : undefined),
    schema: url(['https:', 'http:', 'file:']),
  }),
  MODEL_SOURCE_FORMAT: spec({
    type: 'enum',
    expected: 'morpheus',
    default: 'morpheus',
    usedBy: ['init'],
    doc: 'Format of the model source document.',
    schema: oneOf(['morpheus'] as const),
  }),
  MODEL_SOURCE_TIMEOUT: spec({
    type: 'duration',
    expected: 'a duration such as 10s',
    default: '10s',
    usedBy: ['init'],
    doc: 'Time allowed for one request to the model source (connect, headers and body).',
    schema: duration,
  }),
  MODEL_SOURCE_MAX_BYTES: spec({
    type: 'size',
    expected: 'a size such as 512kb, 20mib',
    default: '20mib',
    usedBy: ['init'],
    doc: 'Largest model source response accepted.',
    schema: size,
  }),
  MODEL_SOURCE_RETRIES: spec({
    type: 'integer',
    expected: 'an integer from 0 to 10',
    default: '3',
    usedBy: ['init'],
    doc: 'Retries of a failed source request (jittered backoff, Retry-After honoured).',
    schema: integer(0, 10),
  }),
  MODELS_FALLBACK_AFTER: spec({
    type: 'duration',
    expected: 'a duration such as 3s, 30s',
    default: '3s',
    usedBy: ['init'],
    doc: 'When init holds a last-known-good artifact (younger than MODELS_MAX_STALE) but must ask the source, the longest it lets the source take over all attempts before the pod starts on that artifact, marked stale. Without one, MODEL_SOURCE_TIMEOUT and MODEL_SOURCE_RETRIES apply in full, as they always do for `refresh`.',
    schema: duration,
  }),
  MODELS_FILE: spec({
    type: 'path',
    expected: 'an absolute file path',
    default: '/var/run/modelgate/models.json',
    usedBy: ['app', 'init'],
    doc: 'The artifact file in the shared emptyDir; the init report is written beside it.',
    schema: text.refine((v) => v.startsWith('/'), { message: 'is not an absolute path' }),
  }),
  MODELS_CONFIGMAP: spec({
    type: 'namespace/name',
    expected: 'namespace/name, e.g. default/modelgate-models',
    usedBy: ['init'],
    doc: 'The pre-created ConfigMap used as the cluster-wide artifact cache. Unset: no ConfigMap sink.',
    schema: configMapRef,
  }),
  MODELS_CONFIGMAP_DIR: spec({
    type: 'path',
    expected: 'an absolute directory path',
    usedBy: ['app'],
    doc: 'Where the models ConfigMap is mounted in the app container; watched for refreshed artifacts.',
    schema: text.refine((v) => v.startsWith('/'), { message: 'is not an absolute path' }),
  }),
  MODELS_MAX_AGE: spec({
    type: 'duration',
    expected: 'a duration such as 10m, 1h',
    default: '10m',
    usedBy: ['init', 'app'],
    doc: 'An artifact checked within this age and not marked stale is fresh: init reuses it without a request to the source. Older (or marked), it is stale: init asks the source first.',
    schema: duration,
  }),
  MODELS_MAX_STALE: spec({
    type: 'duration',
    expected: 'a duration such as 24h, 7d',
    default: '7d',
    usedBy: ['init', 'app'],
    doc: 'A stale artifact checked within this age is a last-known-good: when the source fails, init starts the pod on it (marked stale). Older, it is expired: init fails instead. The app serves what it holds either way.',
    schema: duration,
  }),
  ROUTING_FILE: spec({
    type: 'path',
    expected: 'an absolute file path (.yaml, .yml or .json)',
    usedBy: ['app'],
    doc: 'The routing file: upstreams (URL, key variable, timeout, concurrency cap, breaker) and the routes from models to them. Validated at start (exit 2 naming each problem) and hot-reloaded; an invalid change keeps the routing in force. Unset: UPSTREAM_URL, if set, is the one upstream.',
    schema: text.refine((v) => v.startsWith('/'), { message: 'is not an absolute path' }),
  }),
  UPSTREAM_URL: spec({
    type: 'URL',
    expected: 'an http:// or https:// URL',
    usedBy: ['app'],
    doc: 'The one-upstream shorthand for a routing file: every model goes to UPSTREAM_URL/v1/chat/completions and /v1/embeddings. Not together with ROUTING_FILE.',
    schema: url(['http:', 'https:']),
  }),
  UPSTREAM_API_KEY: spec({
    type: 'string',
    expected: 'a bearer token',
    secret: true,
    usedBy: ['app'],
    doc: 'With UPSTREAM_URL: bearer token sent to the upstream, if it needs one.',
    schema: text,
  }),
  UPSTREAM_TIMEOUT: spec({
    type: 'duration',
    expected: 'a duration such as 60s',
    default: '120s',
    usedBy: ['app'],
    doc: 'With UPSTREAM_URL: time allowed for the upstream to answer (its response headers); then 504.',
    schema: duration,
  }),
  UPSTREAM_MODEL_FIELD: spec({
    type: 'enum',
    expected: 'upstream_id or name',
    default: 'upstream_id',
    usedBy: ['app'],
    doc: 'With UPSTREAM_URL: which model field is sent upstream as `model` (a routing file sets it per target).',
    schema: oneOf(['upstream_id', 'name'] as const),
  }),
  DEFAULT_MODEL: spec({
    type: 'string',
    expected: 'a model name from the catalog',
    usedBy: ['app'],
    doc: 'Model used when a chat completion names none; unset: such requests get 400.',
    schema: text,
  }),
  LIMITS_ON_STORE_ERROR: spec({
    type: 'enum',
    expected: 'open or closed',
    default: 'open',
    usedBy: ['app'],
    doc: 'What a request of a key with limits gets when they cannot be checked (the database is unreachable): open admits it unchecked (counted by modelgate_limits_unchecked_total), closed refuses it with 503 database_unavailable. Keys without limits are never affected.',
    schema: oneOf(['open', 'closed'] as const),
  }),
  LIMITS_POLICY_CACHE_TTL: spec({
    type: 'duration',
    expected: 'a duration such as 10s',
    default: '10s',
    usedBy: ['app'],
    doc: "How long a pod uses a key's effective policy before reading it again: a change made through another pod takes effect within this (at once on the pod that made it).",
    schema: duration,
  }),
  LIMITS_DEFAULT_COMPLETION_TOKENS: spec({
    type: 'integer',
    expected: 'an integer from 0 to 1000000',
    default: '1024',
    usedBy: ['app'],
    doc: 'Completion tokens a chat completion is assumed to use before forwarding when it sets neither max_completion_tokens nor max_tokens (tokens per minute and budgets are checked on that estimate, then settled with the real count).',
    schema: integer(0, 1_000_000),
  }),
  HOST: spec({
    type: 'string',
    expected: 'an interface address such as 0.0.0.0',
    default: '0.0.0.0',
    usedBy: ['app'],
    doc: 'Address the HTTP server binds.',
    schema: text,
  }),
  PORT: spec({
    type: 'integer',
    expected: 'a port from 0 to 65535',
    default: '8080',
    usedBy: ['app'],
    doc: 'Port the HTTP server listens on (0 picks a free one).',
    schema: integer(0, 65535),
  }),
  BODY_LIMIT: spec({
    type: 'size',
    expected: 'a size such as 1mib',
    default: '1mib',
    usedBy: ['app'],
    doc: 'Largest request body accepted; larger bodies get 413.',
    schema: size,
  }),
  LOG_LEVEL: spec({
    type: 'enum',
    expected: 'fatal, error, warn, info, debug, trace or silent',
    default: 'info',
    usedBy: ['app', 'init'],
    doc: 'Minimum level of the JSON log lines.',
    schema: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
  }),
  SHUTDOWN_DELAY: spec({
    type: 'duration',
    expected: 'a duration such as 5s',
    default: '5s',
    usedBy: ['app'],
    doc: 'After SIGTERM, how long /readyz reports 503 before the server stops accepting connections.',
    schema: duration,
  }),
  SHUTDOWN_TIMEOUT: spec({
    type: 'duration',
    expected: 'a duration such as 25s',
    default: '25s',
    usedBy: ['app'],
    doc: 'Upper bound for draining in-flight requests and streams after SIGTERM; then the process exits.',
    schema: duration,
  }),
  USAGE_LEDGER: spec({
    type: 'enum',
    expected: 'on or off',
    default: 'on',
    usedBy: ['app'],
    doc: 'Whether every chat completion and embedding is recorded in the usage ledger (the usage_records table). Off: nothing is written; tokens are still counted (metrics, limits) and GET /usage answers from the rows already there.',
    schema: oneOf(['on', 'off'] as const),
  }),
  USAGE_FLUSH_INTERVAL: spec({
    type: 'duration',
    expected: 'a duration such as 1s, 500ms',
    default: '1s',
    usedBy: ['app'],
    doc: 'The longest a usage record waits in memory before its batch is written (a full batch of USAGE_BATCH_SIZE is written at once).',
    schema: positiveDuration,
  }),
  USAGE_BATCH_SIZE: spec({
    type: 'integer',
    expected: 'an integer from 1 to 4000',
    default: '500',
    usedBy: ['app'],
    doc: 'Usage records written per INSERT.',
    schema: integer(1, 4000),
  }),
  USAGE_BUFFER_MAX: spec({
    type: 'integer',
    expected: 'an integer from 1 to 10000000',
    default: '100000',
    usedBy: ['app'],
    doc: 'Usage records held in memory while they cannot be written (before the database first answers, during an outage), about 1 KiB each; each one beyond is dropped and counted in modelgate_buffer_dropped_total{buffer="usage"}.',
    schema: integer(1, 10_000_000),
  }),
  USAGE_RETENTION: spec({
    type: 'duration',
    expected: 'a duration such as 90d, 400d',
    default: '90d',
    usedBy: ['init'],
    doc: '`modelgate-init prune-usage` (the retention CronJob) deletes usage records older than this.',
    schema: positiveDuration,
  }),
  USAGE_PRUNE_BATCH: spec({
    type: 'integer',
    expected: 'an integer from 100 to 100000',
    default: '5000',
    usedBy: ['init'],
    doc: '`modelgate-init prune-usage`: rows deleted per statement (each DELETE holds its locks for one batch only).',
    schema: integer(100, 100_000),
  }),
  ADMIN_TOKEN: spec({
    type: 'string',
    expected: 'a random token of at least 32 characters',
    secret: true,
    usedBy: ['app'],
    doc: 'Bearer token of the /admin routes; unset: admin routes answer 404.',
    schema: token,
  }),
  HOSTNAME: spec({
    type: 'string',
    expected: 'the pod name',
    usedBy: ['app', 'init'],
    doc: 'Set by Kubernetes to the pod name; logged as `pod` and shown in /status.',
    schema: text,
  }),
} as const;

export type VariableName = keyof typeof variables;
type Output<S> = S extends { schema: z.ZodType<infer T, string> } ? T : never;
export type Env = {
  [K in VariableName]: (typeof variables)[K] extends { required: true } | { default: string }
    ? Output<(typeof variables)[K]>
    : Output<(typeof variables)[K]> | undefined;
};

/** The variables `binary` reads, from their `usedBy`. */
export type VariableOf<B extends Binary> = {
  [K in VariableName]: B extends (typeof variables)[K]['usedBy'][number] ? K : never;
}[VariableName];

/** The parsed values of one binary's variables: a variable it does not read is not there to be read. */
export type EnvOf<B extends Binary> = Pick<Env, VariableOf<B>>;

export function variablesOf(binary: Binary): VariableName[] {
  return (Object.keys(variables) as VariableName[]).filter((name) =>
    (variables[name].usedBy as readonly Binary[]).includes(binary),
  );
}

import pino, { type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

const REDACTED = '[redacted]';

/** Object paths whose values are never logged, wherever they appear in a log record. */
const REDACT_PATHS = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'request.headers.authorization',
  'config.headers.Authorization',
  'password',
  '*.password',
  'apiKey',
  '*.apiKey',
  'key',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'adminToken',
  '*.adminToken',
  'ADMIN_TOKEN',
];

const CONNECTION_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)([^@/?#\s]+)(@)/gi;
const API_KEY = /\b(sk-[A-Za-z0-9_]+)\.[A-Za-z0-9_-]+/g;
const BEARER = /\b(Bearer\s+)[^\s"',]+/gi;

/** Removes secrets from free text: passwords in connection strings, API key secrets, bearer tokens. */
export function scrubSecrets(text: string, extraSecrets: readonly string[] = []): string {
  let out = text.replace(CONNECTION_PASSWORD, `$1${REDACTED}$3`).replace(API_KEY, `$1.${REDACTED}`);
  out = out.replace(BEARER, `$1${REDACTED}`);
  for (const secret of extraSecrets) if (secret.length >= 8) out = out.split(secret).join(REDACTED);
  return out;
}

function scrubDeep(value: unknown, secrets: readonly string[], depth: number): unknown {
  if (typeof value === 'string') return scrubSecrets(value, secrets);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return {
      type: value.name,
      message: scrubSecrets(value.message, secrets),
      stack: value.stack && scrubSecrets(value.stack, secrets),
      code: (value as { code?: unknown }).code,
    };
  }
  if (Array.isArray(value)) return value.map((item) => scrubDeep(item, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) out[key] = scrubDeep(child, secrets, depth + 1);
  return out;
}

export interface LoggerOptions {
  component: string;
  level?: string;
  pod?: string;
  /** Values that must never appear in a log line (ADMIN_TOKEN, upstream key...). */
  secrets?: readonly (string | undefined)[];
  destination?: DestinationStream;
}

/**
 * JSON lines with `component`, `pid`, `pod`, level and `msg`. Secrets are removed twice: known paths are redacted
 * by pino, and every string (message and fields) is scrubbed for connection-string passwords, API keys and
 * bearer tokens.
 */
export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? pino.destination({ fd: 1, sync: true });
  const logger = buildLogger({ ...options, destination });
  origins.set(logger, { ...options, destination });
  return logger;
}

type ResolvedOptions = LoggerOptions & { destination: DestinationStream };
const origins = new WeakMap<Logger, ResolvedOptions>();

/**
 * The logger of a part of the process (`api`, `db`, `catalog`...): same destination, level and secrets, with
 * `component` replaced. pino's child() would append a second `component` key to every line instead.
 */
export function componentLogger(parent: Logger, component: string): Logger {
  const options = origins.get(parent);
  if (!options) return parent.child({ component });
  const logger = buildLogger({ ...options, component, level: parent.level });
  origins.set(logger, { ...options, component });
  return logger;
}

function buildLogger(options: ResolvedOptions): Logger {
  const secrets = (options.secrets ?? []).filter((s): s is string => typeof s === 'string' && s.length > 0);
  return pino(
    {
      level: options.level ?? 'info',
      base: {
        component: options.component,
        pid: process.pid,
        pod: options.pod ?? process.env.HOSTNAME ?? 'local',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (record) => scrubDeep(record, secrets, 0) as Record<string, unknown>,
      },
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((arg) => (typeof arg === 'string' ? scrubSecrets(arg, secrets) : arg));
          return method.apply(this, scrubbed as Parameters<typeof method>);
        },
      },
      serializers: { err: (err: unknown) => scrubDeep(err, secrets, 0) },
    },
    options.destination,
  );
}

/** A logger that writes nothing, for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

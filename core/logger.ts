import pino, { type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

const REDACTED = '[redacted]';

/**
 * Fields whose values are never logged, at any depth of a log record (`key` only at the top: it is a common word
 * deeper down). Censored while the record is scrubbed, in the same pass: pino's own `redact` with wildcard paths
 * cost an access-log line more than everything else it does together.
 */
const SECRET_FIELDS = new Set([
  'authorization',
  'Authorization',
  'cookie',
  'password',
  'apiKey',
  'secret',
  'token',
  'adminToken',
  'ADMIN_TOKEN',
]);
const TOP_LEVEL_SECRET_FIELDS = new Set([...SECRET_FIELDS, 'key']);

const CONNECTION_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)([^@/?#\s]+)(@)/gi;
const API_KEY = /\b(sk-[A-Za-z0-9_]+)\.[A-Za-z0-9_-]+/g;
const BEARER = /\b(Bearer\s+)[^\s"',]+/gi;

/** Text none of the three patterns can match (each needs `://`, `sk-` or `bearer` and a space) is left alone at once. */
const MAY_HOLD_SECRET = /:\/\/|sk-|bearer\s/i;

/** Removes secrets from free text: passwords in connection strings, API key secrets, bearer tokens. */
export function scrubSecrets(text: string, extraSecrets: readonly string[] = []): string {
  let out = text;
  if (MAY_HOLD_SECRET.test(out)) {
    out = out.replace(CONNECTION_PASSWORD, `$1${REDACTED}$3`).replace(API_KEY, `$1.${REDACTED}`);
    out = out.replace(BEARER, `$1${REDACTED}`);
  }
  for (const secret of extraSecrets)
    if (secret.length >= 8 && out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

/**
 * Every string in `value` scrubbed, Errors as plain objects. A plain object or array with nothing to change is
 * returned as it is (an access-log line usually has nothing), the others are copied with the changes.
 */
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
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const scrubbed = scrubDeep(item, secrets, depth + 1);
      if (scrubbed !== item) (copy ??= [...value])[i] = scrubbed;
    });
    return copy ?? value;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  // Other objects (a Date, a Buffer) become their own enumerable fields, as JSON would not show them otherwise.
  let copy: Record<string, unknown> | undefined =
    proto === Object.prototype || proto === null ? undefined : {};
  const censored = depth === 0 ? TOP_LEVEL_SECRET_FIELDS : SECRET_FIELDS;
  for (const key of Object.keys(value)) {
    const child = (value as Record<string, unknown>)[key];
    const scrubbed =
      censored.has(key) && child !== undefined ? REDACTED : scrubDeep(child, secrets, depth + 1);
    if (copy) copy[key] = scrubbed;
    else if (scrubbed !== child) {
      copy = { ...(value as Record<string, unknown>) };
      copy[key] = scrubbed;
    }
  }
  return copy ?? value;
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
 * JSON lines with `component`, `pid`, `pod`, level and `msg`. Secrets are removed twice: the values of known
 * fields (SECRET_FIELDS) are censored, and every string (message and fields) is scrubbed for connection-string
 * passwords, API keys and bearer tokens.
 */
export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? logDestination(1);
  const logger = buildLogger({ ...options, destination });
  origins.set(logger, { ...options, destination });
  return logger;
}

/** A write is started once this many bytes of lines are pending... */
export const LOG_BUFFER_BYTES = 4096;
/** ...or this long after the first line logged since the last flush, whichever comes first. */
export const LOG_FLUSH_MS = 50;

/**
 * The app's stdout: buffered, asynchronous lines. Lines are gathered until LOG_BUFFER_BYTES are pending or
 * LOG_FLUSH_MS after the first of them, then written by one asynchronous write (libuv's thread pool); lines that
 * come while it is under way go out in the next. A write per line would cost a request, even alone on an idle pod,
 * a hand-off to that thread and back (two futex wake-ups, an eventfd write and read). The flush timer is armed by a
 * line, not kept running: sonic-boom's own periodicFlush writes (an empty string) on every tick, idle or not. pino
 * flushes what is pending synchronously when the process exits, on a signal or an error as well.
 */
export function logDestination(fd: number): ReturnType<typeof pino.destination> {
  const destination = pino.destination({ fd, sync: false, minLength: LOG_BUFFER_BYTES });
  let flushTimer: NodeJS.Timeout | undefined;
  const flush = () => {
    flushTimer = undefined;
    // Ended meanwhile (its end() wrote what was pending): sonic-boom throws on a flush after that.
    if (!(destination as unknown as { destroyed: boolean }).destroyed) destination.flush();
  };
  const write = destination.write.bind(destination);
  destination.write = (line: string) => {
    flushTimer ??= setTimeout(flush, LOG_FLUSH_MS).unref();
    return write(line);
  };
  return destination;
}

/**
 * pino's isoTime, formatted at most once per millisecond: under load several lines share one, and formatting the
 * date was a fifth of what an access-log line cost.
 */
function isoTimeOncePerMs(): () => string {
  let ms = Number.NaN;
  let field = '';
  return () => {
    const now = Date.now();
    if (now !== ms) {
      ms = now;
      field = `,"time":"${new Date(now).toISOString()}"`;
    }
    return field;
  };
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
      timestamp: isoTimeOncePerMs(),
      formatters: {
        level: (label) => ({ level: label }),
        log: (record) => scrubDeep(record, secrets, 0) as Record<string, unknown>,
      },
      hooks: {
        // In place: pino made `args` for this call alone.
        logMethod(args, method) {
          for (let i = 0; i < args.length; i++) {
            const arg: unknown = args[i];
            if (typeof arg === 'string') args[i] = scrubSecrets(arg, secrets);
          }
          return method.apply(this, args);
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

/**
 * Which failures mean "the database cannot be used right now" (down, unreachable, hanging, restarting) as opposed
 * to a failure of one statement (a constraint, a bad query). The first kind answers 503 and starts an outage check;
 * the second is a bug or a client error.
 */

/** Socket errors of a connection that could not be made or was cut. */
const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  EPIPE: 'connection closed while writing',
  ECONNABORTED: 'connection aborted',
  EADDRNOTAVAIL: 'address not available',
};

/** SQLSTATEs the server sends when it cannot serve this session at all. */
const SERVER_CODES: Record<string, string> = {
  '57P01': 'the server is shutting down (57P01)',
  '57P02': 'the server crashed (57P02)',
  '57P03': 'the server is starting up or shutting down (57P03)',
  '53300': 'the server has too many connections (53300)',
  '28000': 'the server refused the login (28000)',
  '28P01': 'the server refused the password (28P01)',
  '3D000': 'the database does not exist (3D000)',
};

/** What node-postgres and knex say, in their own words, when the connection is gone or never answered. */
const MESSAGES: [RegExp, string][] = [
  [/connection terminated due to connection timeout|timeout expired/i, 'no answer to the connection attempt'],
  [/query read timeout/i, 'no answer to a query within DB_QUERY_TIMEOUT'],
  [/connection terminated|connection ended unexpectedly/i, 'the connection was closed'],
  [/not queryable|client was closed/i, 'the connection was closed'],
];

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  errors?: unknown;
}

function describe(error: unknown, depth: number): string | undefined {
  if (!error || typeof error !== 'object' || depth > 3) return undefined;
  const e = error as ErrorLike;
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code && NETWORK_CODES[code]) return NETWORK_CODES[code];
  if (code && SERVER_CODES[code]) return SERVER_CODES[code];
  // Class 08: connection exception (the server or the driver says the session is broken).
  if (code && /^08[0-9A-Z]{3}$/.test(code)) return `connection exception (${code})`;
  if (e.name === 'KnexTimeoutError') return 'no pooled connection within DB_CONNECT_TIMEOUT';
  const message = typeof e.message === 'string' ? e.message : '';
  for (const [pattern, text] of MESSAGES) if (pattern.test(message)) return text;
  // Node reports a failed connection to several addresses (localhost: ::1 and 127.0.0.1) as an AggregateError.
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const found = describe(inner, depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}

/** True when the error means the database cannot be reached or used at all right now. */
export function isDatabaseUnavailable(error: unknown): boolean {
  return describe(error, 0) !== undefined;
}

/**
 * A short cause for logs, /status and metrics (e.g. "connection refused"): never an address, user or password, so
 * it can be shown to anyone. Undefined when the error is not an unavailability.
 */
export function unavailableReason(error: unknown): string | undefined {
  return describe(error, 0);
}

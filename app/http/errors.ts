import type { ErrorRequestHandler, RequestHandler } from 'express';
import * as z from 'zod';
import { isDatabaseUnavailable } from '../../core/db/errors';
import type { Logger } from '../../core/logger';

/**
 * The one error body of every HTTP answer, in the OpenAI shape: `{"error":{"message","type","code","param"}}`.
 * Each class below fixes the status; `errorHandler` turns whatever was thrown into a body and logs only the 5xx.
 */
export const errorTypes = [
  'invalid_request_error',
  'authentication_error',
  'permission_error',
  'not_found_error',
  'rate_limit_error',
  'server_error',
  'upstream_error',
  'service_unavailable',
] as const;
export type ErrorType = (typeof errorTypes)[number];

const buildErrorBodySchema = () =>
  z.strictObject({
    error: z.looseObject({
      message: z.string(),
      type: z.enum(errorTypes),
      code: z.string().nullable(),
      param: z
        .string()
        .nullable()
        .meta({ description: 'The offending field or parameter, if one is to blame.' }),
      suggestions: z
        .array(z.string())
        .max(3)
        .optional()
        .meta({ description: 'Near misses of an unknown model name.' }),
    }),
  });
let errorBody: ReturnType<typeof buildErrorBodySchema> | undefined;
/** The schema of the error body, for the OpenAPI document; built when that is (serving does not need it). */
export const errorBodySchema = () => (errorBody ??= buildErrorBodySchema());
export type ErrorBody = z.output<ReturnType<typeof buildErrorBodySchema>>;

export interface ApiErrorOptions {
  code?: string | null;
  param?: string | null;
  /** Extra fields under `error` (e.g. `suggestions`). */
  details?: Record<string, unknown>;
}

export abstract class ApiError extends Error {
  abstract readonly status: number;
  abstract readonly type: ErrorType;
  readonly code: string | null;
  readonly param: string | null;
  readonly details: Record<string, unknown>;
  /** Response headers that belong to the error (e.g. `Allow` on a 405). */
  headers: Record<string, string> = {};

  constructor(message: string, options: ApiErrorOptions = {}) {
    super(message);
    this.name = new.target.name;
    this.code = options.code ?? null;
    this.param = options.param ?? null;
    this.details = options.details ?? {};
  }

  toJSON(): ErrorBody {
    return {
      error: { message: this.message, type: this.type, code: this.code, param: this.param, ...this.details },
    };
  }
}

const TYPE_BY_STATUS: Record<number, ErrorType> = {
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  429: 'rate_limit_error',
  502: 'upstream_error',
  503: 'service_unavailable',
  504: 'upstream_error',
};

/** The type that goes with a status: a 4xx not listed is a client's mistake, a 5xx not listed the gateway's. */
export function errorTypeOf(status: number): ErrorType {
  return TYPE_BY_STATUS[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
}

/** The base of the errors that always answer with one status (and its type). */
export function errorWithStatus(status: number) {
  const type = errorTypeOf(status);
  return class extends ApiError {
    readonly status = status;
    readonly type = type;
  };
}

export class BadRequestError extends errorWithStatus(400) {}
export class UnauthorizedError extends errorWithStatus(401) {}
export class NotFoundError extends errorWithStatus(404) {}
export class ConflictError extends errorWithStatus(409) {}
export class PayloadTooLargeError extends errorWithStatus(413) {}
export class UnsupportedMediaTypeError extends errorWithStatus(415) {}
export class InternalError extends errorWithStatus(500) {}
export class BadGatewayError extends errorWithStatus(502) {}
export class ServiceUnavailableError extends errorWithStatus(503) {}
export class GatewayTimeoutError extends errorWithStatus(504) {}

export class MethodNotAllowedError extends errorWithStatus(405) {
  constructor(method: string, path: string, allowed: readonly string[]) {
    super(`${method} is not supported on ${path}; it accepts ${allowed.join(', ')}.`, {
      code: 'method_not_allowed',
    });
    this.headers = { Allow: allowed.join(', ') };
  }
}

/** How long a client is told to wait before retrying a request that needs the database during an outage. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/**
 * The database cannot be reached (or does not answer): the request could not be served, nothing was refused.
 * Carries Retry-After; never names the database's address. Not logged per request: the outage detector
 * (app/database-health.ts) logs the outage once.
 */
export class DatabaseUnavailableError extends ServiceUnavailableError {
  constructor(
    message = `The database is unreachable, so this request cannot be served right now; retry in ${DATABASE_RETRY_AFTER_SECONDS} s. Models and chat completions keep working for API keys this gateway has recently seen.`,
  ) {
    super(message, { code: 'database_unavailable' });
    this.headers = { 'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS) };
  }
}

/**
 * An error with its own status: express' own client errors, typed by status, or an upstream 4xx passed on (429, a
 * context window too small), which keeps `invalid_request_error`.
 */
export class StatusError extends ApiError {
  readonly type: ErrorType;
  constructor(
    readonly status: number,
    message: string,
    options: ApiErrorOptions & { type?: ErrorType } = {},
  ) {
    super(message, options);
    this.type = options.type ?? errorTypeOf(status);
  }
}

interface ThrownByLibraries {
  name?: unknown;
  status?: unknown;
  statusCode?: unknown;
  expose?: unknown;
  type?: unknown;
  limit?: unknown;
  message?: unknown;
}

/** What body-parser, express and the database driver throw, as errors a client can act on. */
function fromLibrary(error: unknown, bodyLimit: number | undefined): ApiError | undefined {
  const e = (error ?? {}) as ThrownByLibraries;
  switch (e.type) {
    case 'entity.parse.failed':
      return new BadRequestError(
        'The request body is not valid JSON; send a JSON document with Content-Type: application/json.',
        { code: 'invalid_json' },
      );
    case 'entity.too.large': {
      const limit = Number(e.limit ?? bodyLimit);
      const shown = Number.isFinite(limit) && limit > 0 ? ` of ${limit} bytes` : '';
      return new PayloadTooLargeError(
        `The request body is larger than the limit${shown} (BODY_LIMIT); send a smaller body.`,
        { code: 'request_too_large' },
      );
    }
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new UnsupportedMediaTypeError(
        'The request body must be JSON in UTF-8 without a content encoding.',
        {
          code: 'unsupported_encoding',
        },
      );
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new BadRequestError('The request body could not be read completely; send it again.', {
        code: 'invalid_body',
      });
  }
  // Down, unreachable, not answering, restarting, or no pooled connection in time (KnexTimeoutError).
  if (isDatabaseUnavailable(error)) return new DatabaseUnavailableError();
  const status = Number(e.status ?? e.statusCode);
  // express' own client errors (a malformed %-encoding in the path: "Failed to decode param") mark their message
  // safe to show with `expose`; http-errors sets it for every 4xx.
  if (Number.isInteger(status) && status >= 400 && status < 500) {
    const message =
      e.expose !== false && typeof e.message === 'string' && e.message !== ''
        ? e.message
        : 'The request was refused.';
    return new StatusError(status, message);
  }
  return undefined;
}

/** Turns what was thrown into an ApiError; unknown errors become a 500 that leaks nothing. */
export function toApiError(error: unknown, requestId: string, bodyLimit?: number): ApiError {
  if (error instanceof ApiError) return error;
  const known = fromLibrary(error, bodyLimit);
  if (known) return known;
  const status = Number((error as ThrownByLibraries | undefined)?.status);
  const code = Number.isInteger(status) && status >= 500 && status <= 599 ? status : 500;
  return new StatusError(code, `Internal error; quote request id ${requestId} when reporting it.`, {
    code: 'internal_error',
  });
}

/** The status and body an error is answered with. */
export function describeError(
  error: unknown,
  requestId: string,
  bodyLimit?: number,
): { status: number; body: ErrorBody } {
  const apiError = toApiError(error, requestId, bodyLimit);
  return { status: apiError.status, body: apiError.toJSON() };
}

/** The last middleware: every error becomes an error body; only 5xx ones are logged (as errors). */
export function errorHandler(options: { logger: Logger; bodyLimit?: number }): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const apiError = toApiError(error, req.id, options.bodyLimit);
    if (apiError.status >= 500 && !(apiError instanceof DatabaseUnavailableError)) {
      options.logger.error(
        { err: error, requestId: req.id, method: req.method, status: apiError.status },
        'request failed',
      );
    }
    if (res.headersSent) {
      // Mid-stream (e.g. SSE): a half-sent body cannot become an error body; cut the connection so the client sees
      // the failure instead of a response that merely looks short.
      res.destroy();
      return;
    }
    res.set(apiError.headers).status(apiError.status).json(apiError.toJSON());
  };
}

/** Unknown paths: a JSON 404 in the error shape. */
export function notFound(): RequestHandler {
  return (req, _res, next) => {
    next(
      new NotFoundError(`No route for ${req.method} ${req.path}; GET / lists the entry points.`, {
        code: 'route_not_found',
      }),
    );
  };
}

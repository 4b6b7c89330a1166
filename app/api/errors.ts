/**
 * API errors in the OpenAI shape: `{"error":{"message","type","code","param"}}`. Each class fixes the status code;
 * the router's error middleware turns them into bodies and logs only the 5xx ones.
 */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'upstream_error'
  | 'service_unavailable';

export interface ErrorBody {
  error: { message: string; type: ErrorType; code: string | null; param: string | null };
}

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

export class BadRequestError extends ApiError {
  readonly status = 400;
  readonly type = 'invalid_request_error';
}

export class UnauthorizedError extends ApiError {
  readonly status = 401;
  readonly type = 'authentication_error';
}

export class NotFoundError extends ApiError {
  readonly status = 404;
  readonly type = 'not_found_error';
}

export class MethodNotAllowedError extends ApiError {
  readonly status = 405;
  readonly type = 'invalid_request_error';
}

export class PayloadTooLargeError extends ApiError {
  readonly status = 413;
  readonly type = 'invalid_request_error';
}

export class UnsupportedMediaTypeError extends ApiError {
  readonly status = 415;
  readonly type = 'invalid_request_error';
}

export class ConflictError extends ApiError {
  readonly status = 409;
  readonly type = 'invalid_request_error';
}

export class InternalError extends ApiError {
  readonly status = 500;
  readonly type = 'server_error';
}

export class BadGatewayError extends ApiError {
  readonly status = 502;
  readonly type = 'upstream_error';
}

export class ServiceUnavailableError extends ApiError {
  readonly status = 503;
  readonly type = 'service_unavailable';
}

export class GatewayTimeoutError extends ApiError {
  readonly status = 504;
  readonly type = 'upstream_error';
}

/** A client error raised by express itself (e.g. a malformed %-encoding in the path), with its own status. */
export class ClientError extends ApiError {
  readonly type = 'invalid_request_error';
  constructor(
    readonly status: number,
    message: string,
    options: ApiErrorOptions = {},
  ) {
    super(message, options);
  }
}

/** An upstream 4xx passed on with its own status (e.g. 429, or 400 for a context window the model cannot hold). */
export class UpstreamClientError extends ApiError {
  readonly type = 'invalid_request_error';
  constructor(
    readonly status: number,
    message: string,
    options: ApiErrorOptions = {},
  ) {
    super(message, options);
  }
}

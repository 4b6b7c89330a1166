import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../../core/logger';

export interface ErrorBody {
  error: {
    message: string;
    type: string;
    code: string | null;
    param: string | null;
    [extra: string]: unknown;
  };
}

const TYPE_BY_STATUS: Record<number, string> = {
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  429: 'rate_limit_error',
  502: 'upstream_error',
  503: 'service_unavailable',
  504: 'upstream_error',
};

function typeFor(status: number): string {
  return TYPE_BY_STATUS[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
}

export function errorBody(status: number, message: string, code: string | null, param: string | null = null) {
  return { error: { message, type: typeFor(status), code, param } } satisfies ErrorBody;
}

interface HttpishError {
  status?: unknown;
  statusCode?: unknown;
  expose?: unknown;
  type?: unknown;
  limit?: unknown;
  message?: unknown;
  toJSON?: () => unknown;
}

/** Turns what was thrown into a status and an OpenAI-style body; unknown errors become a 500 that leaks nothing. */
export function describeError(
  error: unknown,
  requestId: string,
  bodyLimit?: number,
): { status: number; body: ErrorBody } {
  const e = (error ?? {}) as HttpishError;
  const status = Number(e.status ?? e.statusCode);
  if (e.type === 'entity.parse.failed') {
    return {
      status: 400,
      body: errorBody(
        400,
        'The request body is not valid JSON; send a JSON document with Content-Type: application/json.',
        'invalid_json',
      ),
    };
  }
  if (e.type === 'entity.too.large') {
    const limit = Number(e.limit ?? bodyLimit);
    const shown = Number.isFinite(limit) && limit > 0 ? ` of ${limit} bytes` : '';
    return {
      status: 413,
      body: errorBody(
        413,
        `The request body is larger than the limit${shown}; send a smaller body.`,
        'request_too_large',
      ),
    };
  }
  if (Number.isInteger(status) && status >= 400 && status <= 599) {
    if (typeof e.toJSON === 'function') {
      const json = e.toJSON() as ErrorBody;
      if (json && typeof json === 'object' && 'error' in json) return { status, body: json };
    }
    // Errors from express' own layers (body-parser, send) mark which messages are safe to show.
    if (status < 500 && e.expose !== false && typeof e.message === 'string')
      return { status, body: errorBody(status, e.message, null) };
  }
  const code = Number.isInteger(status) && status >= 500 && status <= 599 ? status : 500;
  return {
    status: code,
    body: errorBody(
      code,
      `Internal error; quote request id ${requestId} when reporting it.`,
      'internal_error',
    ),
  };
}

/** The last middleware: every error becomes an OpenAI-style JSON body; only 5xx ones are logged (as errors). */
export function errorHandler(options: { logger: Logger; bodyLimit?: number }): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const { status, body } = describeError(error, req.id, options.bodyLimit);
    if (status >= 500) options.logger.error({ err: error, requestId: req.id, status }, 'request failed');
    if (res.headersSent) {
      // Mid-stream (e.g. SSE): a half-sent body cannot become an error body; cut the connection so the client sees
      // the failure instead of a response that merely looks short.
      res.destroy();
      return;
    }
    res.status(status).json(body);
  };
}

/** Unknown paths: a JSON 404 in the API's error shape. */
export function notFound(): RequestHandler {
  return (req, res) => {
    res
      .status(404)
      .json(
        errorBody(
          404,
          `No route for ${req.method} ${req.path}; see /api/v1/openapi.json for the API.`,
          'route_not_found',
        ),
      );
  };
}

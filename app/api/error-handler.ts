import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../../core/logger';
import {
  ApiError,
  BadRequestError,
  ClientError,
  InternalError,
  NotFoundError,
  PayloadTooLargeError,
  ServiceUnavailableError,
  UnsupportedMediaTypeError,
} from './errors';

interface BodyParserError {
  type?: unknown;
  status?: unknown;
  limit?: unknown;
}

/** What body-parser and the database driver throw, as API errors a client can act on. */
export function toApiError(error: unknown, bodyLimit: number): ApiError | undefined {
  if (error instanceof ApiError) return error;
  const e = (error ?? {}) as BodyParserError;
  switch (e.type) {
    case 'entity.parse.failed':
      return new BadRequestError(
        'The request body is not valid JSON; send a JSON document with Content-Type: application/json.',
        { code: 'invalid_json' },
      );
    case 'entity.too.large':
      return new PayloadTooLargeError(
        `The request body is larger than the limit of ${bodyLimit} bytes (BODY_LIMIT); send a smaller body.`,
        { code: 'request_too_large' },
      );
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
  const status = Number(e.status);
  if (Number.isInteger(status) && status >= 400 && status < 500) {
    const message =
      status === 400
        ? 'The request is malformed (check the %-encoding of the path).'
        : 'The request was refused.';
    return new ClientError(status === 400 || status === 413 || status === 415 ? status : 400, message, {
      code: 'invalid_request',
    });
  }
  if ((error as Error | undefined)?.name === 'KnexTimeoutError') {
    return new ServiceUnavailableError('The database is busy; retry shortly.', { code: 'database_busy' });
  }
  return undefined;
}

export function notFoundHandler(): RequestHandler {
  return (req) => {
    throw new NotFoundError(
      `Unknown route ${req.method} ${req.baseUrl}${req.path}; GET /api/v1/openapi.json lists the routes.`,
      { code: 'route_not_found' },
    );
  };
}

/** OpenAI-style error bodies; only server-side failures are logged (with the request id, never the body). */
export function errorHandler(logger: Logger, bodyLimit: number): ErrorRequestHandler {
  return (error, req, res, next) => {
    const requestId = res.getHeader('x-request-id');
    const known = toApiError(error, bodyLimit);
    const apiError =
      known ??
      new InternalError(
        `The gateway failed to handle the request; an operator can find it by request id ${String(requestId)}.`,
        { code: 'internal_error' },
      );
    if (apiError.status >= 500) {
      logger.error({ err: error, requestId, method: req.method, route: req.route?.path }, 'request failed');
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    void next;
    res.status(apiError.status).json(apiError.toJSON());
  };
}

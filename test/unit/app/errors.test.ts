import {
  BadGatewayError,
  BadRequestError,
  ConflictError,
  describeError,
  GatewayTimeoutError,
  InternalError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  ServiceUnavailableError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from '../../../app/http/errors';

describe('describeError: OpenAI-style bodies', () => {
  it('maps body-parser failures to 400 invalid_json and 413 request_too_large', () => {
    expect(describeError({ type: 'entity.parse.failed', status: 400 }, 'r1')).toEqual({
      status: 400,
      body: {
        error: {
          message: expect.stringContaining('not valid JSON'),
          type: 'invalid_request_error',
          code: 'invalid_json',
          param: null,
        },
      },
    });
    const large = describeError({ type: 'entity.too.large', status: 413, limit: 1024 }, 'r1');
    expect(large.status).toBe(413);
    expect(large.body.error).toMatchObject({ code: 'request_too_large', type: 'invalid_request_error' });
    expect(large.body.error.message).toContain('1024 bytes');
  });

  it('answers an ApiError with its own status and body', () => {
    const error = new NotFoundError('gone', { code: 'model_not_found', param: 'model' });
    expect(describeError(error, 'r1')).toEqual({
      status: 404,
      body: { error: { message: 'gone', type: 'not_found_error', code: 'model_not_found', param: 'model' } },
    });
  });

  it('shows the message of exposed 4xx errors and types them by status', () => {
    expect(describeError(Object.assign(new Error('slow down'), { status: 429 }), 'r1').body.error).toEqual({
      message: 'slow down',
      type: 'rate_limit_error',
      code: null,
      param: null,
    });
    expect(describeError(Object.assign(new Error('no'), { statusCode: 401 }), 'r1').body.error.type).toBe(
      'authentication_error',
    );
  });

  it('hides everything about unexpected errors behind a 500 naming the request id', () => {
    const result = describeError(new Error('connect ECONNREFUSED postgres://u:secret@db'), 'req-42');
    expect(result.status).toBe(500);
    expect(result.body.error).toEqual({
      message: 'Internal error; quote request id req-42 when reporting it.',
      type: 'server_error',
      code: 'internal_error',
      param: null,
    });
    const upstream = describeError(
      Object.assign(new Error('internal detail'), { status: 503, expose: false }),
      'r',
    );
    expect(upstream.status).toBe(503);
    expect(JSON.stringify(upstream.body)).not.toContain('internal detail');
    expect(describeError(undefined, 'r').status).toBe(500);
  });

  it('maps what the database driver and body-parser throw to errors a client can act on', () => {
    const busy = Object.assign(new Error('Knex: Timeout acquiring a connection'), {
      name: 'KnexTimeoutError',
    });
    // No pooled connection within DB_CONNECT_TIMEOUT: the database cannot be used right now.
    expect(describeError(busy, 'r1')).toEqual({
      status: 503,
      body: {
        error: {
          message: expect.stringMatching(/^The database is unreachable, .* retry in 5 s\./),
          type: 'service_unavailable',
          code: 'database_unavailable',
          param: null,
        },
      },
    });
    const gzip = describeError({ type: 'encoding.unsupported', status: 415 }, 'r1');
    expect(gzip).toMatchObject({ status: 415, body: { error: { code: 'unsupported_encoding' } } });
    const aborted = describeError({ type: 'request.aborted', status: 400 }, 'r1');
    expect(aborted).toMatchObject({ status: 400, body: { error: { code: 'invalid_body' } } });
  });

  it('a 405 names the method, the path and what the path accepts, and carries Allow', () => {
    const error = new MethodNotAllowedError('TRACE', '/v1/models', ['GET', 'HEAD', 'OPTIONS']);
    expect(error.headers).toEqual({ Allow: 'GET, HEAD, OPTIONS' });
    expect(describeError(error, 'r1')).toEqual({
      status: 405,
      body: {
        error: {
          message: 'TRACE is not supported on /v1/models; it accepts GET, HEAD, OPTIONS.',
          type: 'invalid_request_error',
          code: 'method_not_allowed',
          param: null,
        },
      },
    });
  });

  it.each([
    [BadRequestError, 400, 'invalid_request_error'],
    [UnauthorizedError, 401, 'authentication_error'],
    [NotFoundError, 404, 'not_found_error'],
    [ConflictError, 409, 'invalid_request_error'],
    [PayloadTooLargeError, 413, 'invalid_request_error'],
    [UnsupportedMediaTypeError, 415, 'invalid_request_error'],
    [InternalError, 500, 'server_error'],
    [BadGatewayError, 502, 'upstream_error'],
    [ServiceUnavailableError, 503, 'service_unavailable'],
    [GatewayTimeoutError, 504, 'upstream_error'],
  ])('%p answers %p with the type %p and keeps its class name', (ErrorClass, status, type) => {
    const error = new ErrorClass('it failed', { code: 'some_code' });
    expect(error.name).toBe(ErrorClass.name);
    expect(describeError(error, 'r1')).toEqual({
      status,
      body: { error: { message: 'it failed', type, code: 'some_code', param: null } },
    });
  });
});

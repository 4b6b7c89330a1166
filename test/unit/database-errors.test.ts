import { KnexTimeoutError } from 'knex';
import { toApiError } from '../../app/http/errors';
import { isDatabaseUnavailable, unavailableReason } from '../../core/db/errors';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('database unavailability', () => {
  // What node-postgres and knex throw (messages as they print them) when the database is down or not answering.
  const unavailable: [string, unknown, string][] = [
    ['nothing listens', withCode('connect ECONNREFUSED 10.1.2.3:5432', 'ECONNREFUSED'), 'connection refused'],
    ['reset', withCode('read ECONNRESET', 'ECONNRESET'), 'connection reset'],
    ['no route', withCode('connect ETIMEDOUT 10.1.2.3:5432', 'ETIMEDOUT'), 'connection timed out'],
    ['dns', withCode('getaddrinfo ENOTFOUND db.internal', 'ENOTFOUND'), 'host name not found'],
    [
      'server stops',
      withCode('terminating connection due to administrator command', '57P01'),
      'the server is shutting down (57P01)',
    ],
    [
      'server crashed',
      withCode('terminating connection because of crash', '57P02'),
      'the server crashed (57P02)',
    ],
    [
      'server starting',
      withCode('the database system is starting up', '57P03'),
      'the server is starting up or shutting down (57P03)',
    ],
    [
      'too many clients',
      withCode('sorry, too many clients already', '53300'),
      'the server has too many connections (53300)',
    ],
    ['connection exception', withCode('connection failure', '08006'), 'connection exception (08006)'],
    ['closed', new Error('Connection terminated unexpectedly'), 'the connection was closed'],
    [
      'connect timeout',
      new Error('Connection terminated due to connection timeout'),
      'no answer to the connection attempt',
    ],
    ['query timeout', new Error('Query read timeout'), 'no answer to a query within DB_QUERY_TIMEOUT'],
    [
      'pool',
      new KnexTimeoutError('Knex: Timeout acquiring a connection. The pool is probably full.'),
      'no pooled connection within DB_CONNECT_TIMEOUT',
    ],
    [
      'both addresses of localhost refused',
      Object.assign(new AggregateError([withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')]), {}),
      'connection refused',
    ],
  ];

  it.each(unavailable)('recognises %s, with a cause that names no address', (_what, error, reason) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(unavailableReason(error)).toBe(reason);
  });

  it('leaves failures of one statement alone', () => {
    for (const error of [
      withCode('duplicate key value violates unique constraint', '23505'),
      withCode('relation "chats" does not exist', '42P01'),
      new Error('something else'),
      undefined,
      'a string',
    ]) {
      expect(isDatabaseUnavailable(error)).toBe(false);
    }
  });

  it('become 503 database_unavailable with Retry-After in the API, never naming the address', () => {
    const error = toApiError(withCode('connect ECONNREFUSED 10.1.2.3:5432', 'ECONNREFUSED'), 'req-1');
    expect(error).toMatchObject({
      status: 503,
      code: 'database_unavailable',
      headers: { 'Retry-After': '5' },
    });
    expect(JSON.stringify(error.toJSON())).not.toMatch(/10\.1\.2\.3|5432/);
    expect(toApiError(new KnexTimeoutError('Knex: Timeout acquiring a connection'), 'req-1').code).toBe(
      'database_unavailable',
    );
    expect(toApiError(withCode('duplicate key', '23505'), 'req-1')).toMatchObject({
      status: 500,
      code: 'internal_error',
    });
  });
});

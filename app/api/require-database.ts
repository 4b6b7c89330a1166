import type { RequestHandler } from 'express';
import type { DatabaseHealth } from '../database-health';
import { DatabaseUnavailableError } from '../http/errors';

/**
 * For routes that need the database for everything they do: during an outage they answer 503 at once (with
 * Retry-After) instead of each waiting for the connection and query timeouts.
 */
export function requireDatabase(health: Pick<DatabaseHealth, 'reachable'>): RequestHandler {
  return (_req, _res, next) => {
    if (!health.reachable()) throw new DatabaseUnavailableError();
    next();
  };
}

import type { Knex } from 'knex';
import type { Logger } from '../../core/logger';

/**
 * A small knex instance for init's own use, logging through our logger. knex is loaded here, on demand: `all` and
 * `models` need it only when a migration is pending (the rest is plain queries on the dedicated connection), and
 * loading it is a good part of an init container's start.
 */
export async function initKnex(
  url: string,
  logger: Logger,
  options: { poolMax?: number; checkClient?: boolean } = {},
): Promise<Knex> {
  const { createDatabase } = await import('../../core/db/connection.js');
  return createDatabase({
    url,
    logger,
    poolMax: options.poolMax ?? 1,
    applicationName: 'modelgate-init',
    ...(options.checkClient ? { clientCheckIntervalMs: 1_000 } : {}),
  });
}

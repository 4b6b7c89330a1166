import type { Knex } from 'knex';
import { createDatabase } from '../../core/db/connection';
import type { Logger } from '../../core/logger';

/** A small knex instance for init's own use, logging through our logger. */
export function initKnex(
  url: string,
  logger: Logger,
  options: { poolMax?: number; checkClient?: boolean } = {},
): Knex {
  return createDatabase({
    url,
    logger,
    poolMax: options.poolMax ?? 1,
    applicationName: 'modelgate-init',
    ...(options.checkClient ? { clientCheckIntervalMs: 1_000 } : {}),
  });
}

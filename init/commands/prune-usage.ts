import { formatDuration } from '../../core/config';
import type { RunContext } from '../context';
import { InitError } from '../errors';

/**
 * One bounded DELETE: the oldest rows first, by the created_at index, so each statement holds its locks and its
 * WAL for one batch only and the ledger's inserts never wait behind a clean-up of months of rows.
 */
const DELETE_BATCH = `
DELETE FROM usage_records WHERE id IN (
  SELECT id FROM usage_records WHERE created_at < $1 ORDER BY created_at LIMIT $2
)`;

export interface PruneResult {
  cutoff: string;
  deleted: number;
  batches: number;
}

/**
 * `modelgate-init prune-usage` (the retention CronJob): deletes usage records older than USAGE_RETENTION in
 * batches of USAGE_PRUNE_BATCH until none is left. Rows newer than the cutoff are never touched, and rows written
 * meanwhile are newer, so the loop ends. Uses the dedicated connection (MIGRATION_DATABASE_URL).
 */
export async function runPruneUsage(ctx: RunContext): Promise<PruneResult> {
  const { retentionMs, pruneBatch } = ctx.config.usage;
  const cutoff = new Date(ctx.deps.clock.now() - retentionMs);
  const client = await ctx.database();
  const logger = ctx.logger.child({ step: 'pruneUsage' });
  let deleted = 0;
  let batches = 0;
  await ctx.report.step('pruneUsage', async () => {
    for (;;) {
      let rowCount: number;
      try {
        ({ rowCount } = (await client.query(DELETE_BATCH, [cutoff, pruneBatch])) as { rowCount: number });
      } catch (error) {
        if ((error as { code?: string }).code === '42P01')
          throw new InitError(
            'the database has no usage_records table: run modelgate-init migrate (or the chart upgrade) first',
          );
        throw error;
      }
      batches += 1;
      deleted += rowCount;
      if (rowCount < pruneBatch) break;
      logger.debug({ deleted, batches }, 'pruning usage records');
    }
  });
  const result = { cutoff: cutoff.toISOString(), deleted, batches };
  logger.info(
    { ...result, retention: formatDuration(retentionMs) },
    `deleted ${deleted} usage records older than ${result.cutoff}`,
  );
  return result;
}

import { migrationsDirectory } from '../../core/db/migrations';
import type { RunContext } from '../context';
import { migrate } from '../db/migrate';

export async function runMigrate(ctx: RunContext, migrationsDir: string | undefined): Promise<void> {
  const client = await ctx.database();
  const result = await ctx.report.step('migrate', () =>
    migrate({
      client,
      url: ctx.config.database.migrationUrl,
      directory: migrationsDir ?? migrationsDirectory(),
      lockTimeoutMs: ctx.config.database.lockTimeoutMs,
      logger: ctx.logger.child({ step: 'migrate' }),
      clock: ctx.deps.clock,
    }),
  );
  ctx.report.pendingBefore = result.pendingBefore;
  ctx.report.applied = result.applied.map((m) => m.name);
}

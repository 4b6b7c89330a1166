import { initKnex } from '../db/knex';
import { REQUIRED_MIGRATION, schemaState } from '../../core/db/migrations';
import { backoffDelay } from '../backoff';
import type { RunContext } from '../context';
import { InitError, messageOf } from '../errors';
import type { Artifact } from '../../core/artifact/schema';

/**
 * Job mode: the hook Job migrates and resolves the models; each pod's init container only waits for both, then
 * copies the artifact into its emptyDir.
 */
export async function runWait(ctx: RunContext): Promise<void> {
  const { config, logger, deps } = ctx;
  const configMap = await ctx.configMapSink();
  const file = ctx.fileSink();
  const source = configMap ?? file;
  const db = await initKnex(config.database.url, ctx.logger);
  const deadline = deps.clock.now() + config.models.waitTimeoutMs;
  let missing: string[] = [];
  try {
    const artifact = await ctx.report.step('wait', async () => {
      for (let attempt = 0; ; attempt++) {
        missing = [];
        let found: Artifact | undefined;
        try {
          const state = await schemaState(db, REQUIRED_MIGRATION);
          if (!state.compatible) missing.push(`schema: ${state.reason}`);
        } catch (error) {
          missing.push(`schema: cannot query the database (${messageOf(error)})`);
        }
        try {
          const read = await source.read();
          if (read.state === 'valid') found = read.artifact;
          else
            missing.push(
              `artifact: ${source.description} ${read.state === 'missing' ? 'holds no artifact yet' : read.reason}`,
            );
        } catch (error) {
          missing.push(`artifact: ${messageOf(error)}`);
        }
        if (missing.length === 0 && found) return found;
        const left = deadline - deps.clock.now();
        if (left <= 0) {
          throw new InitError(
            `gave up after WAIT_TIMEOUT (${config.models.waitTimeoutMs} ms) waiting for: ${missing.join('; ')}; check the modelgate-init job (it runs "all") and its logs`,
          );
        }
        logger.info({ attempt: attempt + 1, waitingFor: missing }, 'waiting for the schema and the artifact');
        await deps.clock.sleep(
          Math.min(left, backoffDelay(attempt, { baseMs: 500, maxMs: 5_000 }, deps.clock.random)),
        );
      }
    });
    if (source !== file) await file.write(artifact);
    ctx.report.origin = 'reused';
    ctx.report.artifact = artifact;
    logger.info(
      { models: artifact.models.length, sha256: artifact.sha256 },
      'schema current and artifact copied',
    );
  } finally {
    await db.destroy();
  }
}

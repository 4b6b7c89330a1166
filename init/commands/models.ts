import type { RunContext } from '../context';
import { acquireLock, awaitLockRelease, tryAcquireLock, type AcquireOptions } from '../db/advisory-lock';
import { UsageError } from '../errors';
import { createResolver } from '../models/resolve';
import { fetchSource } from '../models/source';

async function resolver(ctx: RunContext, command: 'models' | 'refresh') {
  const sourceUrl = ctx.requireSourceUrl(command);
  const configMap = await ctx.configMapSink();
  if (command === 'refresh' && !configMap) {
    throw new UsageError(
      'modelgate-init refresh updates the ConfigMap cache, but MODELS_CONFIGMAP is not set; set it to namespace/name',
    );
  }
  const logger = ctx.logger.child({ step: 'models' });
  const { config, deps } = ctx;
  const lockOptions = async (): Promise<AcquireOptions> => ({
    client: await ctx.database(),
    lock: 'models',
    timeoutMs: config.models.lockTimeoutMs,
    timeoutVariable: 'MODELS_LOCK_TIMEOUT',
    logger,
    clock: deps.clock,
  });
  return createResolver({
    sourceUrl,
    maxAgeMs: config.models.maxAgeMs,
    maxStaleMs: config.models.maxStaleMs,
    fallbackAfterMs: config.models.fallbackAfterMs,
    configMap,
    file: command === 'models' ? ctx.fileSink() : undefined,
    logger,
    clock: deps.clock,
    lock: {
      acquire: async () => acquireLock(await lockOptions()),
      tryAcquire: async () => tryAcquireLock(await lockOptions()),
      awaitRelease: async () => awaitLockRelease(await lockOptions()),
    },
    fetch: (request, limits) =>
      fetchSource(request, {
        budget:
          limits.budgetMs === undefined
            ? undefined
            : { ms: limits.budgetMs, variable: 'MODELS_FALLBACK_AFTER' },
        timeoutMs: config.modelSource.timeoutMs,
        maxBytes: config.modelSource.maxBytes,
        retries: config.modelSource.retries,
        logger,
        clock: deps.clock,
        userAgent: deps.userAgent,
      }),
  });
}

export async function runModels(ctx: RunContext, command: 'models' | 'refresh'): Promise<void> {
  const resolve = await resolver(ctx, command);
  const result = await ctx.report.step('models', () =>
    command === 'models' ? resolve.models() : resolve.refresh(),
  );
  ctx.report.origin = result.origin;
  ctx.report.artifact = result.artifact;
}

import type pg from 'pg';
import type { RunContext } from '../context';
import { acquireLock, awaitLockRelease, tryAcquireLock, type AcquireOptions } from '../db/advisory-lock';
import { LockTimeoutError, UsageError } from '../errors';
import { createResolver } from '../models/resolve';
import { fetchSource } from '../models/source';

async function resolver(ctx: RunContext, command: 'models' | 'refresh') {
  const sourceUrl = ctx.requireSourceUrl(command);
  // Made on first use: a pod waiting on the scout has not loaded the Kubernetes client yet.
  const configMap = ctx.deferredConfigMapSink();
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
  // The scout needs a connection already open (`all` has one from the migrations): `models` over a fresh cache
  // needs no database at all, and a scout is not worth opening one.
  const open = ctx.openDatabase();
  return createResolver({
    scout: command === 'models' && configMap && open ? scoutLock(ctx, open) : undefined,
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

/** Waiting on the scout is bounded by MODELS_LOCK_TIMEOUT and at most this: a stuck scout never holds a pod back long. */
const SCOUT_WAIT_MAX_MS = 10_000;

function scoutLock(ctx: RunContext, client: pg.Client) {
  const logger = ctx.logger.child({ step: 'models' });
  const timeoutMs = Math.min(ctx.config.models.lockTimeoutMs, SCOUT_WAIT_MAX_MS);
  const options: AcquireOptions = {
    client,
    lock: 'scout',
    timeoutMs,
    timeoutVariable: 'MODELS_LOCK_TIMEOUT',
    logger,
    clock: ctx.deps.clock,
  };
  return {
    tryAcquire: () => tryAcquireLock(options),
    async awaitRelease() {
      try {
        await awaitLockRelease(options);
      } catch (error) {
        if (!(error instanceof LockTimeoutError)) throw error;
        logger.warn(
          { lock: 'scout', waitedMs: timeoutMs },
          'the scout has not finished; reading the cache anyway',
        );
      }
    },
  };
}

export async function runModels(ctx: RunContext, command: 'models' | 'refresh'): Promise<void> {
  const resolve = await resolver(ctx, command);
  const result = await ctx.report.step('models', () =>
    command === 'models' ? resolve.models() : resolve.refresh(),
  );
  ctx.report.origin = result.origin;
  ctx.report.artifact = result.artifact;
}

import { scrubSecrets } from '../core/logger';
import type { Invocation } from './cli';
import { RunContext, type InitDeps } from './context';
import { ExitCode, exitCodeOf, InitError, messageOf } from './errors';
import { RunReport, writeReport } from './report';
import { runMigrate } from './commands/migrate';
import { runModels } from './commands/models';
import { runWait } from './commands/wait';
import { runStatus } from './commands/status';
import { runPruneUsage } from './commands/prune-usage';

async function dispatch(ctx: RunContext, invocation: Invocation): Promise<void> {
  switch (invocation.command) {
    case 'migrate':
      return runMigrate(ctx, invocation.migrationsDir);
    case 'all':
      await runMigrate(ctx, invocation.migrationsDir);
      return runModels(ctx, 'models');
    case 'models':
    case 'refresh':
      return runModels(ctx, invocation.command);
    case 'wait':
      return runWait(ctx);
    case 'status':
      return runStatus(ctx);
    case 'prune-usage':
      await runPruneUsage(ctx);
      return;
  }
}

/**
 * Runs one command and returns its exit code. Every run ends with one summary log line and (except `status`)
 * writes init-report.json beside MODELS_FILE, also when it fails.
 */
export async function runInit(invocation: Invocation, deps: InitDeps): Promise<number> {
  const { command } = invocation;
  const { maxAgeMs, maxStaleMs } = deps.config.models;
  const report = new RunReport(command, deps.config.pod, deps.clock, { maxAgeMs, maxStaleMs });
  const ctx = new RunContext(deps, report);
  let exitCode: number = ExitCode.ok;
  let error: string | null = null;
  try {
    await dispatch(ctx, invocation);
  } catch (failure) {
    exitCode = exitCodeOf(failure);
    // The report file is written without the logger: its message is scrubbed here.
    error = scrubSecrets(messageOf(failure), deps.secrets);
    // Expected failures carry their own message; anything else is a bug worth a stack trace.
    if (!(failure instanceof InitError)) deps.logger.error({ err: failure }, 'unexpected failure');
  } finally {
    await ctx.close();
  }
  const summary = report.finish(exitCode, error);
  if (exitCode === ExitCode.ok) deps.logger.info({ summary }, `modelgate-init ${command} done`);
  else deps.logger.error({ summary }, `modelgate-init ${command} failed: ${error}`);
  // `status` only looks, and `prune-usage` is no start-up step: the report of the pod's last init run stays in place
  // for the app's metrics.
  if (command !== 'status' && command !== 'prune-usage')
    await writeReport(deps.config.models.file, summary, deps.logger);
  return exitCode;
}

import { freshness, type FreshnessLimits } from '../core/artifact/freshness';
import type { Logger } from '../core/logger';
import { initReportPath, initReportSchema, ONE_OFF, type InitReport } from '../core/artifact/report';
import type { Artifact } from '../core/artifact/schema';
import type { ArtifactOrigin } from '../core/artifact/report';
import type { Clock } from './backoff';
import { writeFileAtomic } from './models/sinks/file-sink';

/** Collects what a run did, for the summary log line and init-report.json. */
export class RunReport {
  private readonly startedAt: number;
  private readonly durations: Record<string, number> = {};
  applied: string[] = [];
  pendingBefore = 0;
  origin: ArtifactOrigin = 'none';
  artifact: Artifact | undefined;

  constructor(
    private readonly command: string,
    private readonly pod: string,
    private readonly clock: Clock,
    private readonly limits: FreshnessLimits,
  ) {
    this.startedAt = clock.now();
  }

  /** Times one step; the duration is recorded even when the step fails. */
  async step<T>(name: string, work: () => Promise<T>): Promise<T> {
    const started = this.clock.now();
    try {
      return await work();
    } finally {
      this.durations[name] = (this.clock.now() - started) / 1000;
    }
  }

  finish(exitCode: number, error: string | null): InitReport {
    const finished = this.clock.now();
    const state = this.artifact && freshness(this.artifact, this.limits, finished);
    return initReportSchema.parse(
      {
        formatVersion: 1,
        command: this.command,
        pod: this.pod,
        startedAt: new Date(this.startedAt).toISOString(),
        finishedAt: new Date(finished).toISOString(),
        exitCode,
        error,
        migrations: { applied: this.applied, pendingBefore: this.pendingBefore },
        artifact: {
          origin: this.origin,
          models: this.artifact?.models.length ?? 0,
          sha256: this.artifact?.sha256 ?? null,
          stale: state !== undefined && state !== 'fresh',
          freshness: state,
        },
        durations: { ...this.durations, total: (finished - this.startedAt) / 1000 },
      },
      ONE_OFF,
    );
  }
}

/** Writes init-report.json beside MODELS_FILE; a failure to write it is logged, never fatal. */
export async function writeReport(modelsFile: string, report: InitReport, logger: Logger): Promise<void> {
  const file = initReportPath(modelsFile);
  try {
    await writeFileAtomic(file, `${JSON.stringify(report)}\n`);
  } catch (error) {
    logger.warn({ file, err: error }, 'could not write the init report');
  }
}

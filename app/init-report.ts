import fs from 'node:fs/promises';
import { artifactOrigins, initReportSchema, ONE_OFF, type InitReport } from '../core/artifact/report';
import type { Logger } from '../core/logger';
import type { Metrics } from './metrics';

export interface InitReportReader {
  /** Re-reads the report; a missing or invalid one leaves the last good one in place. */
  reload(): Promise<void>;
  current(): InitReport | undefined;
}

/** Exposes the report modelgate-init writes beside MODELS_FILE as metrics and in /status. */
export function createInitReportReader(options: {
  file: string;
  logger: Logger;
  metrics: Pick<Metrics, 'initStepDuration' | 'initArtifactOrigin' | 'initFinished'>;
}): InitReportReader {
  const { file, logger, metrics } = options;
  let report: InitReport | undefined;
  let lastText: string | undefined;

  function publish(next: InitReport): void {
    metrics.initStepDuration.reset();
    for (const [step, seconds] of Object.entries(next.durations))
      metrics.initStepDuration.set({ step }, seconds);
    for (const origin of artifactOrigins)
      metrics.initArtifactOrigin.set({ origin }, origin === next.artifact.origin ? 1 : 0);
    metrics.initFinished.set(Date.parse(next.finishedAt) / 1000);
  }

  return {
    current: () => report,
    async reload() {
      let text: string;
      try {
        text = await fs.readFile(file, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
          logger.warn({ file, err: error }, 'cannot read the init report');
        return;
      }
      if (text === lastText) return;
      lastText = text;
      let parsed: ReturnType<typeof initReportSchema.safeParse>;
      try {
        parsed = initReportSchema.safeParse(JSON.parse(text), ONE_OFF);
      } catch (error) {
        logger.warn({ file, err: error }, 'the init report is not JSON; ignored');
        return;
      }
      if (!parsed.success) {
        logger.warn({ file, reason: parsed.error.issues[0]?.message }, 'the init report is invalid; ignored');
        return;
      }
      report = parsed.data;
      publish(report);
    },
  };
}

import path from 'node:path';
import * as z from 'zod';
import { freshnessStates } from './freshness';

/**
 * The report every modelgate-init run writes beside the artifact file (and logs as its last line); the app
 * exposes it as metrics.
 */
export const artifactOrigins = ['reused', 'fetched', 'not-modified', 'last-known-good', 'none'] as const;
export type ArtifactOrigin = (typeof artifactOrigins)[number];

export const initReportSchema = z.object({
  formatVersion: z.literal(1),
  command: z.string(),
  pod: z.string(),
  startedAt: z.iso.datetime({ offset: true }),
  finishedAt: z.iso.datetime({ offset: true }),
  exitCode: z.number().int(),
  error: z.string().nullable(),
  migrations: z.object({ applied: z.array(z.string()), pendingBefore: z.number().int().nonnegative() }),
  artifact: z.object({
    origin: z.enum(artifactOrigins),
    models: z.number().int().nonnegative(),
    sha256: z.string().nullable(),
    /** Not fresh when the run ended (freshness.ts). */
    stale: z.boolean(),
    /** Absent in reports of versions before it, and when the run ended without an artifact. */
    freshness: z.enum(freshnessStates).optional(),
  }),
  /** Seconds spent per step: waitDb, migrate, models, total. */
  durations: z.record(z.string(), z.number().nonnegative()),
});
export type InitReport = z.infer<typeof initReportSchema>;

/**
 * Parse options for a report, which a process parses once (init when it writes it, the app when the file changes):
 * on an object schema's first parse zod compiles a fast path for it, which costs a start-up more than one parse
 * saves (about 3 against 1.7 ms of CPU on the first parse).
 */
export const ONE_OFF = { jitless: true } as const;

export const INIT_REPORT_FILE = 'init-report.json';

export function initReportPath(modelsFile: string): string {
  return path.join(path.dirname(modelsFile), INIT_REPORT_FILE);
}

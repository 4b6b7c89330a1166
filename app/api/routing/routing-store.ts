import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import type { Logger } from '../../../core/logger';
import { coalesced } from '../../artifact/coalesced';
import type { RoutingSnapshot } from './failover';
import { compileRoutes } from './route-table';
import type { RoutingMetrics } from './routing-metrics';
import { parseRoutingText, type LoadedRouting, type RoutingParse } from './routing-source';
import type { UpstreamRegistry } from './upstream-registry';

/** What /status shows of the routing file. */
export interface RoutingFileView {
  /** The file path, `UPSTREAM_URL` for the shorthand, or null when nothing is configured. */
  source: string | null;
  /** True while the file's current content is the routing in force. */
  valid: boolean;
  /** Why its current content was rejected (one line per problem); empty when valid. */
  problems: string[];
  /** The routing in force. */
  sha256: string | null;
  generation: number;
  loadedAt: string | null;
  upstreams: number;
  routes: number;
}

export interface RoutingStoreOptions {
  /** The routing validated at start; undefined when no upstream is configured. */
  initial: LoadedRouting | undefined;
  /** The file to re-read on reload(); undefined for the shorthand or nothing. */
  file: string | undefined;
  env: NodeJS.ProcessEnv;
  upstreams: UpstreamRegistry;
  metrics: Pick<RoutingMetrics, 'reloads' | 'fileValid' | 'generation'>;
  logger: Logger;
  now?: () => number;
  readText?: (file: string) => Promise<string>;
}

/**
 * The routing in force, kept current from the routing file. A valid new content replaces the snapshot in one
 * assignment (requests already routed keep theirs); an invalid or unreadable one never replaces a good one and is
 * reported until the file is fixed.
 */
export interface RoutingStore {
  current(): RoutingSnapshot | undefined;
  /** Re-reads the file; concurrent calls are coalesced into one extra pass. */
  reload(): Promise<void>;
  view(): RoutingFileView;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function createRoutingStore(options: RoutingStoreOptions): RoutingStore {
  const { file, env, upstreams, metrics, logger } = options;
  const now = options.now ?? Date.now;
  const readText = options.readText ?? ((path: string) => fs.readFile(path, 'utf8'));
  let loaded = options.initial;
  let snapshot: RoutingSnapshot | undefined;
  let generation = 0;
  let loadedAt: number | undefined;
  let problems: string[] = [];
  /** The text last judged, so an unchanged file (every poll) is neither re-parsed nor counted again. */
  let judged = options.initial?.sha256;

  function apply(routing: LoadedRouting): void {
    snapshot = {
      table: compileRoutes(routing.file.routes),
      upstreams: upstreams.apply(routing),
      settings: routing.file.settings,
    };
    loaded = routing;
    generation += 1;
    loadedAt = now();
    problems = [];
    metrics.generation.set(generation);
    metrics.fileValid.set(1);
  }

  if (options.initial) apply(options.initial);
  // Nothing configured is nothing rejected: the alert on this gauge stays quiet.
  else metrics.fileValid.set(1);

  function reject(found: string[]): void {
    problems = found;
    metrics.reloads.inc({ result: 'rejected' });
    metrics.fileValid.set(0);
    logger.warn(
      { file, problems: found, serving: loaded?.sha256 ?? null },
      'routing file rejected; the routing in force stays',
    );
  }

  async function pass(path: string): Promise<void> {
    let text: string;
    try {
      text = await readText(path);
    } catch (error) {
      // The kubelet swaps the whole directory atomically, so a missing file is a real problem, not a moment.
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      if (judged === `unreadable:${code}`) return;
      judged = `unreadable:${code}`;
      reject([`ROUTING_FILE ${path}: cannot be read (${code})`]);
      return;
    }
    const fingerprint = sha256(text);
    if (fingerprint === judged) return;
    judged = fingerprint;
    if (fingerprint === loaded?.sha256) {
      problems = [];
      metrics.fileValid.set(1);
      metrics.reloads.inc({ result: 'unchanged' });
      return;
    }
    const parsed: RoutingParse = parseRoutingText(text, path, env);
    if (!parsed.ok) {
      reject(parsed.problems);
      return;
    }
    apply(parsed.routing);
    metrics.reloads.inc({ result: 'applied' });
    logger.info(
      {
        file: path,
        sha256: parsed.routing.sha256,
        generation,
        upstreams: Object.keys(parsed.routing.file.upstreams).length,
        routes: parsed.routing.file.routes.length,
      },
      'routing file loaded',
    );
  }

  const reload = file ? coalesced(() => pass(file)) : async () => {};

  return {
    current: () => snapshot,
    reload,
    view: () => ({
      source: loaded?.source ?? file ?? null,
      valid: problems.length === 0,
      problems,
      sha256: loaded?.sha256 ?? null,
      generation,
      loadedAt: loadedAt === undefined ? null : new Date(loadedAt).toISOString(),
      upstreams: loaded ? Object.keys(loaded.file.upstreams).length : 0,
      routes: loaded ? loaded.file.routes.length : 0,
    }),
  };
}

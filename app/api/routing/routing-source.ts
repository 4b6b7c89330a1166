import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type * as z from 'zod';
import { fieldName } from '../validation';
import { breakerSchema, routingFileSchema, type RoutingFile } from './routing-file';

/** A validated routing file with what it needs from the environment (the upstreams' keys) already looked up. */
export interface LoadedRouting {
  readonly file: RoutingFile;
  /** Bearer token per upstream name; absent when the upstream needs none. Never shown or logged. */
  readonly apiKeys: ReadonlyMap<string, string>;
  /** Of the file's text, or of the shorthand's settings: tells a changed file from a touched one. */
  readonly sha256: string;
  /** A file path, or `UPSTREAM_URL` for the one-upstream shorthand. */
  readonly source: string;
}

export type RoutingParse = { ok: true; routing: LoadedRouting } | { ok: false; problems: string[] };

/** The one-upstream shorthand: UPSTREAM_URL (+ UPSTREAM_API_KEY, UPSTREAM_TIMEOUT, UPSTREAM_MODEL_FIELD). */
export interface UpstreamShorthand {
  url: string;
  apiKey: string | undefined;
  timeoutMs: number;
  modelField: 'upstream_id' | 'name';
}

const PREFIX = 'ROUTING_FILE';

/** Name of the upstream the shorthand defines (in metrics, headers and /status). */
export const SHORTHAND_UPSTREAM = 'default';

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function decode(text: string, path: string): { ok: true; value: unknown } | { ok: false; problem: string } {
  if (path.toLowerCase().endsWith('.json')) {
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (error) {
      return { ok: false, problem: `${PREFIX} ${path}: not valid JSON: ${(error as Error).message}` };
    }
  }
  // Loaded only for YAML files: the JSON path and the shorthand never pay for the parser.
  const { parseDocument } = require('yaml') as typeof import('yaml');
  const document = parseDocument(text);
  const error = document.errors[0];
  if (error) {
    return {
      ok: false,
      problem: `${PREFIX} ${path}: not valid YAML: ${error.message.split('\n')[0]!.replace(/:$/, '')}`,
    };
  }
  return { ok: true, value: document.toJS() };
}

function issueLine(issue: z.core.$ZodIssue): string {
  const where = fieldName(issue.path);
  // A rejected record key: say what is wrong with it, not only that it is.
  const message = issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message;
  return `${PREFIX} ${where === '' ? '(top level)' : where}: ${message}`;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Targets naming an upstream the file does not define; checked even when other parts are wrong. */
function unknownUpstreams(value: unknown): string[] {
  if (!isRecord(value) || !Array.isArray(value.routes)) return [];
  const defined = isRecord(value.upstreams) ? Object.keys(value.upstreams) : [];
  const problems: string[] = [];
  value.routes.forEach((route: unknown, r) => {
    if (!isRecord(route) || !Array.isArray(route.targets)) return;
    route.targets.forEach((target: unknown, t) => {
      if (!isRecord(target) || typeof target.upstream !== 'string' || defined.includes(target.upstream))
        return;
      problems.push(
        `${PREFIX} routes[${r}].targets[${t}].upstream: unknown upstream ${JSON.stringify(target.upstream)} (defined: ${defined.length > 0 ? defined.join(', ') : 'none'})`,
      );
    });
  });
  return problems;
}

/** Validates a routing document; every problem is one line naming its key path. Never throws. */
export function validateRouting(value: unknown, env: NodeJS.ProcessEnv): RoutingParse {
  const result = routingFileSchema.safeParse(value);
  const unknown = unknownUpstreams(value);
  if (!result.success || unknown.length > 0) {
    return { ok: false, problems: [...(result.error?.issues.map(issueLine) ?? []), ...unknown] };
  }
  const file = result.data;
  const apiKeys = new Map<string, string>();
  const problems: string[] = [];
  for (const [name, upstream] of Object.entries(file.upstreams)) {
    if (upstream.apiKeyEnv === undefined) continue;
    const key = env[upstream.apiKeyEnv];
    if (key === undefined || key.trim() === '') {
      problems.push(
        `${PREFIX} upstreams.${name}.apiKeyEnv: the environment variable ${upstream.apiKeyEnv} is not set; set it (in Kubernetes, add the key to the upstream Secret) or remove apiKeyEnv`,
      );
      continue;
    }
    apiKeys.set(name, key.trim());
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, routing: { file, apiKeys, sha256: '', source: '' } };
}

/** Parses the text of the routing file at `path` (YAML, or JSON when it ends in .json). */
export function parseRoutingText(text: string, path: string, env: NodeJS.ProcessEnv): RoutingParse {
  const decoded = decode(text, path);
  if (!decoded.ok) return { ok: false, problems: [decoded.problem] };
  const checked = validateRouting(decoded.value, env);
  if (!checked.ok) return checked;
  return { ok: true, routing: { ...checked.routing, sha256: sha256(text), source: path } };
}

/** Reads and parses the routing file; a missing or unreadable file is one problem. */
export function readRoutingFile(path: string, env: NodeJS.ProcessEnv): RoutingParse {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return { ok: false, problems: [`${PREFIX} ${path}: cannot be read (${code})`] };
  }
  return parseRoutingText(text, path, env);
}

/** The shorthand as a routing file: one upstream, one catch-all route; no failover, so the deadline is its timeout. */
export function shorthandRouting(upstream: UpstreamShorthand): LoadedRouting {
  const file: RoutingFile = {
    settings: { deadline: upstream.timeoutMs, unknownModels: 'both' },
    upstreams: {
      [SHORTHAND_UPSTREAM]: {
        url: upstream.url,
        timeout: upstream.timeoutMs,
        breaker: breakerSchema.parse(undefined),
      },
    },
    routes: [
      {
        match: {},
        targets: [{ upstream: SHORTHAND_UPSTREAM, priority: 0, weight: 1, model: upstream.modelField }],
      },
    ],
  };
  const apiKeys = new Map<string, string>();
  if (upstream.apiKey) apiKeys.set(SHORTHAND_UPSTREAM, upstream.apiKey);
  const fingerprint = JSON.stringify({
    ...upstream,
    apiKey: upstream.apiKey ? sha256(upstream.apiKey) : null,
  });
  return { file, apiKeys, sha256: sha256(fingerprint), source: 'UPSTREAM_URL' };
}

import type { Config } from '../../../core/config';
import { readRoutingFile, shorthandRouting, type LoadedRouting } from './routing-source';

export type RoutingConfig =
  { ok: true; routing: LoadedRouting | undefined } | { ok: false; problems: string[] };

/**
 * The routing the configuration asks for: ROUTING_FILE, read and validated; else the UPSTREAM_URL shorthand; else
 * none (chat completions and embeddings then answer 503). Both set is a contradiction, not a precedence.
 */
export function loadRouting(config: Readonly<Config>, env: NodeJS.ProcessEnv): RoutingConfig {
  const { file } = config.routing;
  const { upstream } = config;
  if (file !== undefined && upstream.url !== undefined) {
    return {
      ok: false,
      problems: [
        'ROUTING_FILE and UPSTREAM_URL are both set; UPSTREAM_URL is the one-upstream shorthand for a routing file: unset one of them',
      ],
    };
  }
  if (file !== undefined) return readRoutingFile(file, env);
  if (upstream.url === undefined) return { ok: true, routing: undefined };
  return {
    ok: true,
    routing: shorthandRouting({
      url: upstream.url,
      apiKey: upstream.apiKey,
      timeoutMs: upstream.timeoutMs,
      modelField: upstream.modelField,
    }),
  };
}

/** Thrown by the API module when the routing it is built with is invalid (modelgate-app checks before: exit 2). */
export class RoutingConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'RoutingConfigError';
  }
}

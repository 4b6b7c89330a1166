#!/usr/bin/env node
import '../core/navigator-shim';
import { loadConfigOrExit } from '../core/config';
import { createLogger } from '../core/logger';
import { packageVersion } from '../core/package-root';
import { createApiRouter } from './api';
import { loadRouting } from './api/routing/load-routing';
import { startRuntime } from './runtime';

const HELP = `Usage: modelgate-app [--help] [--version]

The stateless modelgate HTTP server. Reads the model artifact written by modelgate-init (MODELS_FILE),
checks the database schema, then reports ready on /readyz. It never migrates and never calls the model
source or the Kubernetes API. Configuration comes from the environment (see the README's table) and
the routing file ROUTING_FILE, both validated at start.

Endpoints: / (an index), /livez, /readyz, /status, /metrics, the API under /api/v1 and /v1, its reference
at /docs. A known path asked with a method it does not serve answers 405 with Allow.
Signals: SIGTERM or SIGINT drains gracefully (exit 0); a second signal, or requests still open after
SHUTDOWN_TIMEOUT, forces the exit (exit 1).
Exit codes: 0 clean shutdown, 1 forced shutdown or start-up failure (e.g. port in use), 2 configuration
(the environment or the routing file; each problem on one line naming the variable or the key).
`;

function main(argv: readonly string[]): void {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  if (argv.includes('--version')) {
    process.stdout.write(`${packageVersion()}\n`);
    return;
  }
  if (argv.length > 0) {
    process.stderr.write(
      `modelgate-app: unknown argument ${JSON.stringify(argv[0])}; see modelgate-app --help\n`,
    );
    process.exit(2);
  }
  const config = loadConfigOrExit();
  // The routing is validated before anything starts, like the environment: every problem on its own line.
  const routing = loadRouting(config, process.env);
  if (!routing.ok) {
    for (const problem of routing.problems)
      process.stderr.write(`modelgate: configuration error: ${problem}\n`);
    process.exit(2);
  }
  const logger = createLogger({
    component: 'app',
    level: config.logLevel,
    pod: config.pod,
    secrets: [config.adminToken, config.upstream.apiKey, ...(routing.routing?.apiKeys.values() ?? [])],
  });
  startRuntime({ config, logger, createApi: createApiRouter, exit: (code) => process.exit(code) }).catch(
    (error: unknown) => {
      logger.fatal({ err: error }, 'modelgate-app could not start');
      process.exit(1);
    },
  );
}

main(process.argv.slice(2));

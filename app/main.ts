#!/usr/bin/env node
import { loadConfigOrExit } from '../core/config';
import { createLogger } from '../core/logger';
import { packageVersion } from '../core/package-root';
import { createApp } from './app';

const HELP = `Usage: modelgate-app [--help] [--version]

The stateless modelgate HTTP server. Reads the model artifact written by modelgate-init (MODELS_FILE),
checks the database schema, then reports ready on /readyz. It never migrates and never calls the model
source or the Kubernetes API. Configuration comes from the environment; see the README's table.
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
  const logger = createLogger({
    component: 'app',
    level: config.logLevel,
    pod: config.pod,
    secrets: [config.adminToken],
  });
  const app = createApp({ config, logger });
  const server = app.listen(config.http.port, config.http.host, () => {
    logger.info({ port: config.http.port }, 'modelgate-app listening');
  });
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
}

main(process.argv.slice(2));

#!/usr/bin/env node
import { loadConfigOrExit } from '../core/config';
import { packageVersion } from '../core/package-root';

const HELP = `Usage: modelgate-init <command> [--help]

Does the heavy start-up work before the app runs, exactly once per cluster.

Commands:
  all       migrate, then models (the pod's init container)
  migrate   wait for the database and apply pending migrations under an advisory lock
  models    resolve the model mapping into the artifact (ConfigMap cache and MODELS_FILE)
  refresh   check the model source and update the ConfigMap (CronJob), never the local file
  wait      wait until the schema is current and the ConfigMap holds a valid artifact, then write MODELS_FILE
  status    print the schema state and the artifact state of each sink as JSON

Exit codes: 0 done, 1 failed at run time, 2 usage or configuration, 3 lock not acquired in time.
`;

function main(argv: readonly string[]): void {
  const [command] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP);
    if (command === undefined) process.exit(2);
    return;
  }
  if (command === '--version') {
    process.stdout.write(`${packageVersion()}\n`);
    return;
  }
  loadConfigOrExit();
  process.stderr.write(
    `modelgate-init: unknown command ${JSON.stringify(command)}; see modelgate-init --help\n`,
  );
  process.exit(2);
}

main(process.argv.slice(2));

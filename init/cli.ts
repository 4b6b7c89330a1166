import { UsageError } from './errors';

export const COMMANDS = ['all', 'migrate', 'models', 'refresh', 'wait', 'status', 'prune-usage'] as const;
export type Command = (typeof COMMANDS)[number];

export interface Invocation {
  command: Command;
  /** Test and tooling hook: apply migrations from this folder instead of the packaged core/db/migrations. */
  migrationsDir: string | undefined;
}

export type ParsedArgs =
  { kind: 'run'; invocation: Invocation } | { kind: 'help'; text: string } | { kind: 'version' };

export const EXIT_CODES_HELP = `Exit codes:
  0  done
  1  failed at run time (database never reachable, migration failed, no usable artifact, Kubernetes API error)
  2  usage or configuration error (unknown command or flag, missing or malformed environment variable)
  3  a lock was not acquired in time (MIGRATION_LOCK_TIMEOUT, MODELS_LOCK_TIMEOUT)
`;

export const HELP = `Usage: modelgate-init <command> [options]

Does the heavy start-up work before the app runs, exactly once per cluster.

Commands:
  all       migrate, then models (the pod's init container)
  migrate   wait for the database and apply pending migrations under an advisory lock
  models    resolve the model mapping into the artifact (ConfigMap cache and MODELS_FILE)
  refresh   check the model source and update the ConfigMap (CronJob), never the local file
  wait      wait until the schema is current and the ConfigMap holds a valid artifact, then write MODELS_FILE
  status    print the schema state and the artifact state of each sink as JSON
  prune-usage  delete usage records older than USAGE_RETENTION, in batches (CronJob)

Run modelgate-init <command> --help for details. Configuration comes from environment variables (README).

${EXIT_CODES_HELP}`;

const MIGRATIONS_DIR_HELP = `  --migrations-dir <dir>  apply the migrations in <dir> instead of the packaged ones (for tests and tooling)\n`;

const COMMAND_HELP: Record<Command, string> = {
  all: `Usage: modelgate-init all [--migrations-dir <dir>]

The pod's init container: migrate, then models. Reads DATABASE_URL, MIGRATION_DATABASE_URL, DB_WAIT_TIMEOUT,
MIGRATION_LOCK_TIMEOUT, MODEL_SOURCE_*, MODELS_*. Writes MODELS_FILE and init-report.json beside it.

Options:
${MIGRATIONS_DIR_HELP}`,
  migrate: `Usage: modelgate-init migrate [--migrations-dir <dir>]

Waits for the database (jittered backoff, bounded by DB_WAIT_TIMEOUT), then applies pending migrations. Nothing
pending: done without a lock. Otherwise a session advisory lock on one dedicated connection (MIGRATION_DATABASE_URL,
bounded by MIGRATION_LOCK_TIMEOUT), knex's own lock table cleared, migrate.latest, release.

Options:
${MIGRATIONS_DIR_HELP}`,
  models: `Usage: modelgate-init models

Resolves the model mapping: reuses an artifact checked within MODELS_MAX_AGE from the ConfigMap (MODELS_CONFIGMAP)
or MODELS_FILE; otherwise one process per cluster (advisory lock, MODELS_LOCK_TIMEOUT) asks MODEL_SOURCE_URL
conditionally and writes the ConfigMap and MODELS_FILE. When the source fails, a last-known-good artifact younger
than MODELS_MAX_STALE is used and marked stale.
`,
  refresh: `Usage: modelgate-init refresh

For the CronJob: always asks MODEL_SOURCE_URL (conditionally) and updates the ConfigMap (MODELS_CONFIGMAP, required).
Never writes MODELS_FILE. A source failure exits 1 and leaves the ConfigMap untouched.
`,
  wait: `Usage: modelgate-init wait

For the chart's job mode: waits (bounded by WAIT_TIMEOUT) until the database has the newest migration this version
needs and the ConfigMap (or, without MODELS_CONFIGMAP, MODELS_FILE) holds a valid artifact, then writes MODELS_FILE.
`,
  status: `Usage: modelgate-init status

Prints JSON to stdout: the schema state and the artifact state of each sink: fresh (checked within MODELS_MAX_AGE,
not marked stale), stale (not fresh, checked within MODELS_MAX_STALE: still a last-known-good), expired (checked
longer ago than MODELS_MAX_STALE), missing, invalid or error.
Writes nothing. Exits 0 when it could print the report.
`,
  'prune-usage': `Usage: modelgate-init prune-usage

For the retention CronJob: deletes usage records older than USAGE_RETENTION from the usage ledger, USAGE_PRUNE_BATCH
rows per statement, oldest first, until none is left. Waits for the database (DB_WAIT_TIMEOUT) on the dedicated
connection (MIGRATION_DATABASE_URL). Newer rows are never touched. Writes no init report.
`,
};

export function commandHelp(command: Command): string {
  return `${COMMAND_HELP[command]}\n${EXIT_CODES_HELP}`;
}

function isCommand(value: string): value is Command {
  return (COMMANDS as readonly string[]).includes(value);
}

/** Parses argv (without node and the script). Throws UsageError (exit 2) on anything it does not understand. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') return { kind: 'help', text: HELP };
  if (first === '--version') return { kind: 'version' };
  if (first === undefined) throw new UsageError(`a command is required\n\n${HELP}`);
  if (!isCommand(first)) {
    throw new UsageError(`unknown command ${JSON.stringify(first)}; see modelgate-init --help`);
  }
  let migrationsDir: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--help' || arg === '-h') return { kind: 'help', text: commandHelp(first) };
    const [flag, inline] = arg.split(/=(.*)/s, 2) as [string, string | undefined];
    if (flag === '--migrations-dir' && (first === 'migrate' || first === 'all')) {
      const value = inline ?? rest[++i];
      if (!value) throw new UsageError('--migrations-dir needs a directory');
      migrationsDir = value;
      continue;
    }
    throw new UsageError(
      `unknown option ${JSON.stringify(arg)} for ${first}; see modelgate-init ${first} --help`,
    );
  }
  return { kind: 'run', invocation: { command: first, migrationsDir } };
}

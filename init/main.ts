#!/usr/bin/env node
import '../core/navigator-shim';
import pino from 'pino';
import type { KubeConfig } from '@kubernetes/client-node';
import { sourceUrlSecrets } from '../core/artifact/source-url';
import { loadConfigOrExit } from '../core/config';
import { createLogger } from '../core/logger';
import { packageVersion } from '../core/package-root';
import { parseArgs } from './cli';
import { ExitCode, UsageError } from './errors';
import { systemClock } from './backoff';
import { runInit } from './run';

async function loadKubeConfig(): Promise<KubeConfig> {
  // Loaded on demand (kube/client): only runs with MODELS_CONFIGMAP talk to the API server.
  const { KubeConfig } = await import('./kube/client.js');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  return kubeConfig;
}

async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`modelgate-init: ${error.message}\n`);
    return ExitCode.usage;
  }
  if (parsed.kind === 'help') {
    process.stdout.write(parsed.text);
    return ExitCode.ok;
  }
  if (parsed.kind === 'version') {
    process.stdout.write(`${packageVersion()}\n`);
    return ExitCode.ok;
  }
  const config = loadConfigOrExit('init');
  const status = parsed.invocation.command === 'status';
  // Every line is written with the source URL redacted; its secrets are scrubbed as well, should a library's error
  // message ever quote the URL.
  const secrets = sourceUrlSecrets(config.modelSource.url);
  const logger = createLogger({
    component: 'init',
    level: config.logLevel,
    pod: config.pod,
    secrets,
    // `status` prints its JSON on stdout; its log lines go to stderr.
    destination: pino.destination({ fd: status ? 2 : 1, sync: true }),
  });
  // As PID 1 in a container a signal without a handler is ignored, so deleting a pod mid-init would wait out the
  // whole grace period. Exiting is safe at any point: the advisory locks go with the connections, an unfinished
  // migration transaction rolls back, and the artifact file is only ever replaced by an atomic rename.
  for (const [signal, number] of [
    ['SIGTERM', 15],
    ['SIGINT', 2],
  ] as const) {
    process.once(signal, () => {
      logger.warn({ signal }, `modelgate-init ${parsed.invocation.command} stopped by ${signal}`);
      process.exit(128 + number);
    });
  }
  return runInit(parsed.invocation, {
    config,
    logger,
    clock: systemClock,
    loadKubeConfig,
    stdout: (text) => process.stdout.write(text),
    secrets,
    userAgent: `modelgate-init/${packageVersion()}`,
  });
}

main(process.argv.slice(2)).then(
  // Exit explicitly: keep-alive sockets or a pool left by a library must not keep an init container running.
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`modelgate-init: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(ExitCode.failed);
  },
);

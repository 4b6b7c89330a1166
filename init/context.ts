import type pg from 'pg';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Config } from '../core/config';
import type { Logger } from '../core/logger';
import type { Clock } from './backoff';
import { waitForDatabase } from './db/wait-for-database';
import { UsageError } from './errors';
import type { RunReport } from './report';
import type { ArtifactSink } from './models/sinks/sink';
import { createConfigMapSink } from './models/sinks/configmap-sink';
import { createFileSink } from './models/sinks/file-sink';

export interface InitDeps {
  config: Readonly<Config>;
  logger: Logger;
  clock: Clock;
  /** In-cluster config or KUBECONFIG; only called when MODELS_CONFIGMAP is set. */
  loadKubeConfig(): Promise<KubeConfig>;
  /** Where `status` prints its JSON. */
  stdout(text: string): void;
  userAgent: string;
}

/**
 * The run's dedicated connections: `main` (migrations, and the models lock when the steps run one after the
 * other) and `models` (the models lock of `all`, whose two steps run side by side: a lock wait blocks the
 * connection it runs on).
 */
export type ConnectionPurpose = 'main' | 'models';

/** What one command run shares between its steps: the dedicated database connections and the sinks. */
export class RunContext {
  private readonly clients = new Map<ConnectionPurpose, Promise<pg.Client>>();

  constructor(
    readonly deps: InitDeps,
    readonly report: RunReport,
  ) {}

  get config() {
    return this.deps.config;
  }

  get logger() {
    return this.deps.logger;
  }

  /**
   * A dedicated connection (MIGRATION_DATABASE_URL). `main` is opened once the database answers (DB_WAIT_TIMEOUT,
   * the waitDb step); `models` after `main`, so the wait happens once.
   */
  database(purpose: ConnectionPurpose = 'main'): Promise<pg.Client> {
    let client = this.clients.get(purpose);
    if (!client) {
      const open = () =>
        waitForDatabase({
          url: this.config.database.migrationUrl,
          timeoutMs: this.config.database.waitTimeoutMs,
          logger: this.logger.child({ step: 'waitDb' }),
          clock: this.deps.clock,
          applicationName: purpose === 'main' ? undefined : `modelgate-init ${purpose}`,
        });
      client =
        purpose === 'main' ? this.report.step('waitDb', open) : this.database('main').then(() => open());
      this.clients.set(purpose, client);
    }
    return client;
  }

  requireSourceUrl(command: string): string {
    const url = this.config.modelSource.url;
    if (!url) {
      throw new UsageError(
        `MODEL_SOURCE_URL is required by modelgate-init ${command}; set it to the model list's https://, http:// or file:// URL`,
      );
    }
    return url;
  }

  /** The ConfigMap sink when MODELS_CONFIGMAP is set. The Kubernetes client is loaded only then (it is slow to load). */
  async configMapSink(): Promise<ArtifactSink | undefined> {
    const ref = this.config.models.configMap;
    if (!ref) return undefined;
    let kubeConfig: KubeConfig;
    try {
      kubeConfig = await this.deps.loadKubeConfig();
    } catch (error) {
      throw new UsageError(
        `cannot load the Kubernetes client configuration for MODELS_CONFIGMAP (${(error as Error).message}); run in-cluster or set KUBECONFIG`,
      );
    }
    return createConfigMapSink({ kubeConfig, ...ref, logger: this.logger.child({ sink: 'configmap' }) });
  }

  fileSink(): ArtifactSink {
    return createFileSink(this.config.models.file);
  }

  async close(): Promise<void> {
    const opened = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(
      opened.map((client) =>
        client.then(
          (c) => c.end().catch(() => undefined),
          () => undefined,
        ),
      ),
    );
  }
}

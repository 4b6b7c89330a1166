import type pg from 'pg';
import type { KubeConfig } from '@kubernetes/client-node';
import type { InitConfig } from '../core/config';
import type { Logger } from '../core/logger';
import type { Clock } from './backoff';
import { waitForDatabase } from './db/wait-for-database';
import { UsageError } from './errors';
import type { RunReport } from './report';
import type { ArtifactSink } from './models/sinks/sink';
import { configMapDescription, createConfigMapSink } from './models/sinks/configmap-sink';
import { createFileSink } from './models/sinks/file-sink';

export interface InitDeps {
  config: Readonly<InitConfig>;
  logger: Logger;
  clock: Clock;
  /** In-cluster config or KUBECONFIG; only called when MODELS_CONFIGMAP is set. */
  loadKubeConfig(): Promise<KubeConfig>;
  /** Where `status` prints its JSON. */
  stdout(text: string): void;
  /** Values never written anywhere (the secret parts of MODEL_SOURCE_URL); the logger scrubs them too. */
  secrets?: readonly string[];
  userAgent: string;
}

/** What one command run shares between its steps: the dedicated database connection and the sinks. */
export class RunContext {
  private client: pg.Client | undefined;

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

  /** The dedicated connection (MIGRATION_DATABASE_URL), opened once the database answers (DB_WAIT_TIMEOUT). */
  async database(): Promise<pg.Client> {
    if (!this.client) {
      this.client = await this.report.step('waitDb', () =>
        waitForDatabase({
          url: this.config.database.migrationUrl,
          timeoutMs: this.config.database.waitTimeoutMs,
          logger: this.logger.child({ step: 'waitDb' }),
          clock: this.deps.clock,
        }),
      );
    }
    return this.client;
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

  /** The dedicated connection if a step has opened it already; never opens one. */
  openDatabase(): pg.Client | undefined {
    return this.client;
  }

  /**
   * The ConfigMap sink, made on its first read or write rather than now (loading the Kubernetes client and the
   * kubeconfig is most of what a read costs); a kubeconfig that cannot be loaded fails that first use instead.
   */
  deferredConfigMapSink(): ArtifactSink | undefined {
    const ref = this.config.models.configMap;
    if (!ref) return undefined;
    let made: Promise<ArtifactSink> | undefined;
    const sink = () => (made ??= this.configMapSink().then((s) => s as ArtifactSink));
    return {
      kind: 'configmap',
      description: configMapDescription(ref.namespace, ref.name),
      read: async () => (await sink()).read(),
      write: async (artifact) => (await sink()).write(artifact),
    };
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
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }
}

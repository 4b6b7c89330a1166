import type { Artifact } from '../../../core/artifact/schema';

export type SinkRead =
  { state: 'missing' } | { state: 'invalid'; reason: string } | { state: 'valid'; artifact: Artifact };

export type WriteOutcome = 'written' | 'kept-newer';

/** Where artifacts are cached and handed off: the ConfigMap (cluster-wide) and MODELS_FILE (this pod). */
export interface ArtifactSink {
  readonly kind: 'configmap' | 'file';
  /** For logs and status: `ConfigMap ns/name`, `file /path`. */
  readonly description: string;
  read(): Promise<SinkRead>;
  /**
   * Stores a validated artifact. A sink shared between writers keeps what it holds when that is newer
   * (by checkedAt), re-reading on conflicts; the result says which happened.
   */
  write(artifact: Artifact): Promise<WriteOutcome>;
}

import { gzipSync } from 'node:zlib';
import type { CoreV1Api, KubeConfig, V1ConfigMap } from '@kubernetes/client-node';
import type { Logger } from '../../../core/logger';
import { CONFIGMAP_GZIP_KEY, CONFIGMAP_KEY, gunzipArtifact } from '../../../core/artifact/configmap';
import { parseArtifactFast } from '../../../core/artifact/fast-parse';
import { isNewer } from '../../../core/artifact/freshness';
import { serializeArtifact, type Artifact } from '../../../core/artifact/schema';
import { InitError } from '../../errors';
import { describeIdentity } from './kube-identity';
import type { ArtifactSink, SinkRead, WriteOutcome } from './sink';

/** Kubernetes rejects ConfigMaps whose data and binaryData together exceed 1 MiB. */
export const CONFIGMAP_MAX_BYTES = 1024 * 1024;
/** Above this, the artifact is stored gzip-compressed in binaryData. */
export const DEFAULT_GZIP_ABOVE_BYTES = 256 * 1024;
const MAX_CONFLICT_RETRIES = 5;

export interface ConfigMapSinkOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  logger: Logger;
  gzipAboveBytes?: number;
}

type Verb = 'get' | 'update';

function statusCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

function statusMessage(error: unknown): string | undefined {
  let body = (error as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return (body as string).slice(0, 300) || undefined;
    }
  }
  const message = (body as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : undefined;
}

/** The ConfigMap's payload size as the API server counts it: keys plus values (binaryData decoded). */
export function configMapDataBytes(configMap: V1ConfigMap): number {
  let total = 0;
  for (const [key, value] of Object.entries(configMap.data ?? {}))
    total += key.length + Buffer.byteLength(value);
  for (const [key, value] of Object.entries(configMap.binaryData ?? {}))
    total += key.length + Buffer.from(value, 'base64').length;
  return total;
}

/** Reads the artifact held in a ConfigMap: `models.json` in data, or gzip `models.json.gz` in binaryData. */
export function decodeConfigMap(configMap: V1ConfigMap): SinkRead {
  const gz = configMap.binaryData?.[CONFIGMAP_GZIP_KEY];
  let text = configMap.data?.[CONFIGMAP_KEY];
  if (gz !== undefined) {
    const inflated = gunzipArtifact(Buffer.from(gz, 'base64'));
    if (!inflated.ok) return { state: 'invalid', reason: `${CONFIGMAP_GZIP_KEY}: ${inflated.reason}` };
    text = inflated.text;
  }
  if (text === undefined || text.trim() === '') return { state: 'missing' };
  const parsed = parseArtifactFast(text);
  return parsed.ok
    ? { state: 'valid', artifact: parsed.artifact }
    : { state: 'invalid', reason: parsed.reason };
}

/** The ConfigMap with the artifact in place of the previous one; other keys, labels and annotations are kept. */
export function encodeConfigMap(
  configMap: V1ConfigMap,
  artifact: Artifact,
  gzipAboveBytes: number,
): V1ConfigMap {
  const json = serializeArtifact(artifact);
  const data = { ...configMap.data };
  const binaryData = { ...configMap.binaryData };
  delete data[CONFIGMAP_KEY];
  delete binaryData[CONFIGMAP_GZIP_KEY];
  if (Buffer.byteLength(json) > gzipAboveBytes)
    binaryData[CONFIGMAP_GZIP_KEY] = gzipSync(json).toString('base64');
  else data[CONFIGMAP_KEY] = json;
  return { ...configMap, data, binaryData };
}

/** How logs, errors and `status` name the ConfigMap. */
export function configMapDescription(namespace: string, name: string): string {
  return `ConfigMap ${namespace}/${name}`;
}

/**
 * The cluster-wide cache: a ConfigMap created by the chart (or kustomize); this sink only reads and replaces it,
 * with the resourceVersion it read, so concurrent writers never overwrite each other blindly.
 */
export function createConfigMapSink(options: ConfigMapSinkOptions): ArtifactSink {
  const { kubeConfig, namespace, name, logger } = options;
  const gzipAboveBytes = options.gzipAboveBytes ?? DEFAULT_GZIP_ABOVE_BYTES;
  let client: CoreV1Api | undefined;
  // The Kubernetes client is loaded on first use (kube/client): runs without a ConfigMap never need it.
  const api = async (): Promise<CoreV1Api> => {
    if (!client) {
      const { keepAliveCoreApi } = await import('../../kube/client.js');
      client = keepAliveCoreApi(kubeConfig);
    }
    return client;
  };
  const object = configMapDescription(namespace, name);

  function explain(error: unknown, verb: Verb): InitError {
    const code = statusCode(error);
    const detail = statusMessage(error);
    const server = kubeConfig.getCurrentCluster()?.server ?? 'the Kubernetes API';
    switch (code) {
      case undefined:
        return new InitError(
          `cannot reach ${server} to ${verb} ${object}: ${(error as Error).message}; check KUBECONFIG or the in-cluster service account`,
        );
      case 401:
        return new InitError(
          `the Kubernetes API rejected the credentials of ${describeIdentity(kubeConfig)} (401) on ${verb} ${object}; the token is missing, expired or wrong`,
        );
      case 403:
        return new InitError(
          `forbidden: ${describeIdentity(kubeConfig)} may not ${verb} ${object}${detail ? ` (${detail})` : ''}; grant get and update on this ConfigMap (resourceNames: [${name}]) as the chart's init Role does`,
        );
      case 404:
        return new InitError(
          `${object} does not exist; modelgate-init only updates it, the Helm chart or the kustomize base creates it: install the chart or apply k8s/, or unset MODELS_CONFIGMAP`,
        );
      case 413:
      case 422:
        return new InitError(
          `the Kubernetes API refused to store the artifact in ${object} (${code}${detail ? `: ${detail}` : ''}); the catalog is too large for a ConfigMap (1 MiB limit)`,
        );
      default:
        return new InitError(
          `the Kubernetes API answered ${code} to ${verb} ${object}${detail ? `: ${detail}` : ''}`,
        );
    }
  }

  async function get(): Promise<V1ConfigMap> {
    try {
      return await (await api()).readNamespacedConfigMap({ name, namespace });
    } catch (error) {
      throw explain(error, 'get');
    }
  }

  return {
    kind: 'configmap',
    description: object,
    async read() {
      return decodeConfigMap(await get());
    },
    async write(artifact: Artifact): Promise<WriteOutcome> {
      for (let attempt = 0; ; attempt++) {
        const current = await get();
        const held = decodeConfigMap(current);
        if (held.state === 'valid' && !isNewer(artifact, held.artifact)) {
          logger.info(
            { sink: object, checkedAt: held.artifact.checkedAt },
            'the ConfigMap already holds a newer artifact',
          );
          return 'kept-newer';
        }
        const body = encodeConfigMap(current, artifact, gzipAboveBytes);
        const bytes = configMapDataBytes(body);
        if (bytes > CONFIGMAP_MAX_BYTES) {
          throw new InitError(
            `the artifact (${artifact.models.length} models) needs ${bytes} bytes in ${object} even gzip-compressed, above the 1 MiB ConfigMap limit; unset MODELS_CONFIGMAP and rely on MODELS_FILE on shared storage, or trim the source`,
          );
        }
        try {
          await (await api()).replaceNamespacedConfigMap({ name, namespace, body });
          logger.info(
            { sink: object, bytes, gzip: body.binaryData?.[CONFIGMAP_GZIP_KEY] !== undefined },
            'artifact written to the ConfigMap',
          );
          return 'written';
        } catch (error) {
          if (statusCode(error) === 409 && attempt < MAX_CONFLICT_RETRIES) {
            logger.info(
              { sink: object, attempt: attempt + 1 },
              'ConfigMap changed meanwhile (409), re-reading',
            );
            continue;
          }
          throw explain(error, 'update');
        }
      }
    },
  };
}

import { artifactAgeMs, freshness } from '../../core/artifact/freshness';
import { redactSourceUrl } from '../../core/artifact/source-url';
import { initKnex } from '../db/knex';
import { REQUIRED_MIGRATION, schemaState } from '../../core/db/migrations';
import type { RunContext } from '../context';
import { messageOf } from '../errors';
import { configMapDescription } from '../models/sinks/configmap-sink';
import type { ArtifactSink } from '../models/sinks/sink';

async function sinkStatus(sink: ArtifactSink, ctx: RunContext) {
  const base = { sink: sink.description, kind: sink.kind };
  try {
    const read = await sink.read();
    if (read.state === 'missing') return { ...base, state: 'missing' };
    if (read.state === 'invalid') return { ...base, state: 'invalid', reason: read.reason };
    const artifact = read.artifact;
    const now = ctx.deps.clock.now();
    const { maxAgeMs, maxStaleMs } = ctx.config.models;
    return {
      ...base,
      state: freshness(artifact, { maxAgeMs, maxStaleMs }, now),
      checkedAt: artifact.checkedAt,
      fetchedAt: artifact.fetchedAt,
      ageSeconds: Math.round(artifactAgeMs(artifact, now) / 1000),
      markedStale: artifact.stale,
      models: artifact.models.length,
      sha256: artifact.sha256,
      source: redactSourceUrl(artifact.source.url),
      warnings: artifact.warnings.length,
    };
  } catch (error) {
    return { ...base, state: 'error', reason: messageOf(error) };
  }
}

/** Prints the schema state and each sink's artifact state as one JSON document; writes nothing. */
export async function runStatus(ctx: RunContext): Promise<void> {
  const { config } = ctx;
  const db = await initKnex(config.database.url, ctx.logger);
  let schema: unknown;
  try {
    schema = await schemaState(db, REQUIRED_MIGRATION);
  } catch (error) {
    schema = { compatible: false, required: REQUIRED_MIGRATION, error: messageOf(error) };
  } finally {
    await db.destroy();
  }
  const sinks = [];
  let configMap: ArtifactSink | undefined;
  try {
    configMap = await ctx.configMapSink();
  } catch (error) {
    // configMapSink() throws only when MODELS_CONFIGMAP is set (without it there is no ConfigMap to report).
    const ref = config.models.configMap!;
    sinks.push({
      sink: configMapDescription(ref.namespace, ref.name),
      kind: 'configmap',
      state: 'error',
      reason: messageOf(error),
    });
  }
  if (configMap) sinks.push(await sinkStatus(configMap, ctx));
  sinks.push(await sinkStatus(ctx.fileSink(), ctx));
  ctx.deps.stdout(
    `${JSON.stringify({ schema, sinks, maxAgeSeconds: config.models.maxAgeMs / 1000, maxStaleSeconds: config.models.maxStaleMs / 1000 }, null, 2)}\n`,
  );
}

import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseArtifactFast } from '../../../core/artifact/fast-parse';
import { serializeArtifact, type Artifact } from '../../../core/artifact/schema';
import type { ArtifactSink, SinkRead, WriteOutcome } from './sink';

/** Writes text atomically: a temp file in the same directory, fsync, rename, fsync of the directory. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true });
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await fs.open(temp, 'w', 0o644);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
  const dirHandle = await fs.open(dir, 'r').catch(() => undefined);
  if (dirHandle) {
    await dirHandle.sync().catch(() => undefined);
    await dirHandle.close();
  }
}

/** MODELS_FILE: the same-pod hand-off to the app, and a cache when it sits on shared storage. */
export function createFileSink(file: string): ArtifactSink {
  return {
    kind: 'file',
    description: `file ${file}`,
    async read(): Promise<SinkRead> {
      let text: string;
      try {
        text = await fs.readFile(file, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
        return { state: 'invalid', reason: `cannot read ${file}: ${(error as Error).message}` };
      }
      const parsed = parseArtifactFast(text);
      return parsed.ok
        ? { state: 'valid', artifact: parsed.artifact }
        : { state: 'invalid', reason: parsed.reason };
    },
    async write(artifact: Artifact): Promise<WriteOutcome> {
      await writeFileAtomic(file, serializeArtifact(artifact));
      return 'written';
    },
  };
}

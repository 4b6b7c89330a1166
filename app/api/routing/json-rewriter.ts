import { Transform, type TransformCallback } from 'node:stream';
import { JsonModelEditor } from './json-model-editor';

/** A whole JSON answer edited at once, as the rewriter would stream it: for a body already in memory. */
export function rewriteJson(
  body: Buffer,
  model: string,
): { body: Buffer; usage: Record<string, unknown> | undefined } {
  const parts: Buffer[] = [];
  const editor = new JsonModelEditor(Buffer.from(JSON.stringify(model)), (bytes) => parts.push(bytes));
  editor.write(body);
  return { body: parts.length === 1 ? parts[0]! : Buffer.concat(parts), usage: editor.usage() };
}

/**
 * A JSON answer on its way to the client: its top-level `model` becomes the name the client asked for and its
 * `usage` is noted. The bytes pass through as they come (one scan, no parse, no copy), so size does not matter.
 */
export class JsonModelRewriter extends Transform {
  private readonly editor: JsonModelEditor;
  private out: Buffer[] = [];
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;

  /** `keepBytes`: the body is kept for a token estimate while it is at most this long (0: never). */
  constructor(
    model: string,
    private readonly keepBytes = 0,
  ) {
    super();
    this.editor = new JsonModelEditor(Buffer.from(JSON.stringify(model)), (bytes) => this.out.push(bytes));
  }

  usage(): Record<string, unknown> | undefined {
    return this.editor.usage();
  }

  /** The body as it came, for an estimate; null when it was longer than `keepBytes` (or nothing was kept). */
  keptChunks(): Buffer[] | null {
    return this.keepBytes > 0 && this.keptBytes <= this.keepBytes ? this.kept : null;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.keepBytes > 0 && this.keptBytes <= this.keepBytes) {
      this.keptBytes += chunk.length;
      if (this.keptBytes <= this.keepBytes) this.kept.push(chunk);
      else this.kept.length = 0;
    }
    this.editor.write(chunk);
    const out = this.out;
    this.out = [];
    if (out.length === 0) done();
    else done(null, out.length === 1 ? out[0] : Buffer.concat(out));
  }
}

import { Transform, type TransformCallback } from 'node:stream';
import { JsonModelEditor } from './json-model-editor';

/**
 * A JSON answer on its way to the client: its top-level `model` becomes the name the client asked for and its
 * `usage` is noted. The bytes pass through as they come (one scan, no parse, no copy), so size does not matter.
 */
export class JsonModelRewriter extends Transform {
  private readonly editor: JsonModelEditor;
  private out: Buffer[] = [];

  constructor(model: string) {
    super();
    this.editor = new JsonModelEditor(Buffer.from(JSON.stringify(model)), (bytes) => this.out.push(bytes));
  }

  usage(): Record<string, unknown> | undefined {
    return this.editor.usage();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.editor.write(chunk);
    const out = this.out;
    this.out = [];
    if (out.length === 0) done();
    else done(null, out.length === 1 ? out[0] : Buffer.concat(out));
  }
}

/**
 * Edits one JSON object as its bytes go by: the top-level `"model"` string is replaced by another name, the
 * top-level `"usage"` object is captured, and every other byte is passed on unchanged. Nothing is parsed into
 * objects and nothing but the two values is held, so a 100 MB embeddings answer costs one pass over its bytes and
 * no copy, and an SSE chunk costs far less than JSON.parse plus JSON.stringify. JSON's structural characters are
 * ASCII, so scanning UTF-8 bytes never mistakes part of a multi-byte character for one.
 *
 * Input that is not a JSON object (or stops being well-formed) is passed on untouched from there on. Keys are
 * compared as written: a key spelled with escapes (`"mod\u0065l"`) is not recognised, which no JSON encoder does.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

const MODEL_KEY = Buffer.from('model');
const USAGE_KEY = Buffer.from('usage');
/** Longer keys cannot be either of the two, so only this much of a key is kept. */
const KEY_CAPACITY = 8;
/** A usage object larger than this is not captured (real ones are a few hundred bytes). */
const MAX_USAGE_BYTES = 64 * 1024;
const MAX_MODEL_BYTES = 4 * 1024;

const enum Phase {
  /** Before the top-level value. */
  Start,
  /** At depth 1, before a key or the closing brace. */
  Key,
  /** Inside a top-level key. */
  InKey,
  Colon,
  /** Before a top-level value. */
  Value,
  /** Inside a top-level string value. */
  InString,
  /** Inside a top-level number, true, false or null. */
  InPrimitive,
  /** Inside a nested object or array (depth >= 2). */
  Nested,
  /** After a top-level value, before `,` or `}`. */
  Comma,
  /** After the top-level object, or on input that is not one: everything passes. */
  Pass,
}

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

export class JsonModelEditor {
  private phase = Phase.Start;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private readonly key = Buffer.alloc(KEY_CAPACITY);
  private keyLength = 0;
  private keyOverflow = false;
  /** Which of the two interesting keys the current top-level value belongs to. */
  private valueOf: 'model' | 'usage' | undefined;
  private replacing = false;
  private readonly modelParts: Buffer[] = [];
  private modelBytes = 0;
  private usageParts: Buffer[] | undefined;
  private usageBytes = 0;
  private capturedUsage: Buffer | undefined;
  private capturedModel: Buffer | undefined;

  /**
   * @param replacement the JSON text (with quotes) that replaces the top-level `model` value
   * @param push receives the output, in order; slices may share memory with the input chunks
   */
  constructor(
    private readonly replacement: Buffer,
    private readonly push: (bytes: Buffer) => void,
  ) {}

  /** Starts over for another document (one SSE event after another), with the same replacement. */
  reset(): void {
    this.phase = Phase.Start;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.keyLength = 0;
    this.keyOverflow = false;
    this.valueOf = undefined;
    this.replacing = false;
    this.modelParts.length = 0;
    this.modelBytes = 0;
    this.usageParts = undefined;
    this.usageBytes = 0;
    this.capturedUsage = undefined;
    this.capturedModel = undefined;
  }

  /** The top-level `usage` object of the document so far, when it had one. */
  usage(): Record<string, unknown> | undefined {
    if (!this.capturedUsage) return undefined;
    try {
      const value: unknown = JSON.parse(this.capturedUsage.toString('utf8'));
      return value !== null && typeof value === 'object' && !Array.isArray(value)
        ? (value as Record<string, unknown>)
        : undefined;
    } catch {
      return undefined;
    }
  }

  /** The top-level `model` the upstream wrote, when the document had one. */
  upstreamModel(): string | undefined {
    if (!this.capturedModel) return undefined;
    try {
      const value: unknown = JSON.parse(this.capturedModel.toString('utf8'));
      return typeof value === 'string' ? value : undefined;
    } catch {
      return undefined;
    }
  }

  /** Whether the document replaced a top-level model (a complete top-level object was seen with one). */
  get replaced(): boolean {
    return this.capturedModel !== undefined;
  }

  write(chunk: Buffer): void {
    if (this.phase === Phase.Pass) {
      this.push(chunk);
      return;
    }
    const length = chunk.length;
    // Where output resumes in this chunk (-1 while a model string is being replaced), and where the model string
    // and the usage object began in it (0: in an earlier chunk; -1: not in one).
    let emitFrom = this.replacing ? -1 : 0;
    let modelFrom = this.replacing ? 0 : -1;
    let usageFrom = this.usageParts ? 0 : -1;
    for (let i = 0; i < length && this.phase !== Phase.Pass; i++) {
      const byte = chunk[i]!;
      switch (this.phase) {
        case Phase.Nested:
          if (this.inString) {
            if (this.escaped) this.escaped = false;
            else if (byte === BACKSLASH) this.escaped = true;
            else if (byte === QUOTE) this.inString = false;
          } else if (byte === QUOTE) this.inString = true;
          else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) this.depth += 1;
          else if ((byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) && --this.depth === 1) {
            this.phase = Phase.Comma;
            if (usageFrom >= 0) {
              this.captureUsage(chunk.subarray(usageFrom, i + 1));
              if (this.usageParts) this.capturedUsage = Buffer.concat(this.usageParts);
              this.usageParts = undefined;
              usageFrom = -1;
            }
          }
          break;
        case Phase.InString:
          if (this.escaped) this.escaped = false;
          else if (byte === BACKSLASH) this.escaped = true;
          else if (byte === QUOTE) {
            this.phase = Phase.Comma;
            if (this.replacing) {
              this.keepModel(chunk.subarray(modelFrom, i + 1));
              this.capturedModel = Buffer.concat(this.modelParts);
              this.push(this.replacement);
              this.replacing = false;
              modelFrom = -1;
              emitFrom = i + 1;
            }
          }
          break;
        case Phase.InKey:
          if (this.escaped) {
            this.escaped = false;
            this.keyOverflow = true;
          } else if (byte === BACKSLASH) this.escaped = true;
          else if (byte === QUOTE) this.phase = Phase.Colon;
          else if (this.keyLength < KEY_CAPACITY) this.key[this.keyLength++] = byte;
          else this.keyOverflow = true;
          break;
        case Phase.Key:
          if (byte === QUOTE) {
            this.phase = Phase.InKey;
            this.keyLength = 0;
            this.keyOverflow = false;
          } else if (byte === CLOSE_OBJECT) this.phase = Phase.Pass;
          else if (!isSpace(byte)) this.phase = Phase.Pass;
          break;
        case Phase.Colon:
          if (byte === COLON) {
            this.phase = Phase.Value;
            this.valueOf = this.keyIs(MODEL_KEY) ? 'model' : this.keyIs(USAGE_KEY) ? 'usage' : undefined;
          } else if (!isSpace(byte)) this.phase = Phase.Pass;
          break;
        case Phase.Value:
          if (isSpace(byte)) break;
          if (byte === QUOTE) {
            this.phase = Phase.InString;
            if (this.valueOf === 'model') {
              if (i > emitFrom) this.push(chunk.subarray(emitFrom, i));
              emitFrom = -1;
              this.replacing = true;
              this.modelParts.length = 0;
              this.modelBytes = 0;
              modelFrom = i;
            }
          } else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
            this.phase = Phase.Nested;
            this.depth = 2;
            if (this.valueOf === 'usage' && byte === OPEN_OBJECT) {
              this.usageParts = [];
              this.usageBytes = 0;
              usageFrom = i;
            }
          } else if (byte === COMMA || byte === CLOSE_OBJECT || byte === COLON) this.phase = Phase.Pass;
          else this.phase = Phase.InPrimitive;
          break;
        case Phase.InPrimitive:
          if (byte === COMMA) this.phase = Phase.Key;
          else if (byte === CLOSE_OBJECT) this.phase = Phase.Pass;
          else if (isSpace(byte)) this.phase = Phase.Comma;
          break;
        case Phase.Comma:
          if (byte === COMMA) this.phase = Phase.Key;
          else if (byte === CLOSE_OBJECT || !isSpace(byte)) this.phase = Phase.Pass;
          break;
        case Phase.Start:
          if (byte === OPEN_OBJECT) {
            this.phase = Phase.Key;
            this.depth = 1;
          } else if (!isSpace(byte)) this.phase = Phase.Pass;
          break;
      }
    }
    if (this.replacing) this.keepModel(chunk.subarray(modelFrom));
    else if (emitFrom < length) this.push(emitFrom === 0 ? chunk : chunk.subarray(emitFrom));
    if (usageFrom >= 0) this.captureUsage(chunk.subarray(usageFrom));
  }

  private keepModel(part: Buffer): void {
    this.modelBytes += part.length;
    // The replaced bytes are kept only to report what the upstream called the model; a huge one is not worth it.
    if (this.modelBytes <= MAX_MODEL_BYTES) this.modelParts.push(Buffer.from(part));
  }

  private captureUsage(part: Buffer): void {
    if (!this.usageParts) return;
    this.usageBytes += part.length;
    if (this.usageBytes > MAX_USAGE_BYTES) {
      this.usageParts = undefined;
      return;
    }
    this.usageParts.push(Buffer.from(part));
  }

  private keyIs(expected: Buffer): boolean {
    if (this.keyOverflow || this.keyLength !== expected.length) return false;
    for (let i = 0; i < expected.length; i++) if (this.key[i] !== expected[i]) return false;
    return true;
  }
}

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

/** The byte of an ASCII character: the structural bytes below are written as the characters they stand for. */
const ascii = (char: string): number => char.charCodeAt(0);
const QUOTE = ascii('"');
const BACKSLASH = ascii('\\');
const OPEN_OBJECT = ascii('{');
const CLOSE_OBJECT = ascii('}');
const OPEN_ARRAY = ascii('[');
const CLOSE_ARRAY = ascii(']');
const COLON = ascii(':');
const COMMA = ascii(',');

const MODEL_KEY = Buffer.from('model');
const USAGE_KEY = Buffer.from('usage');
/** Longer keys cannot be either of the two, so only this much of a key is kept. */
const KEY_CAPACITY = 8;
/** A usage object larger than this is not captured (real ones are a few hundred bytes). */
const MAX_USAGE_BYTES = 64 * 1024;

// The editor's phases, as plain numbers (a TypeScript enum compiled per file is an object lookup per byte).
/** Before the top-level value. */
const START = 0;
/** At depth 1, before a key or the closing brace. */
const KEY = 1;
/** Inside a top-level key. */
const IN_KEY = 2;
const COLON_NEXT = 3;
/** Before a top-level value. */
const VALUE = 4;
/** Inside a top-level string value. */
const IN_STRING = 5;
/** Inside a top-level number, true, false or null. */
const IN_PRIMITIVE = 6;
/** Inside a nested object or array (depth >= 2). */
const NESTED = 7;
/** After a top-level value, before `,` or `}`. */
const COMMA_NEXT = 8;
/** After the top-level object, or on input that is not one: everything passes. */
const PASS = 9;

/**
 * Where the string that `from` is inside of ends (its closing quote), or -1 when it goes on past the chunk. The
 * byte at `from` is not escaped. Skips with indexOf, so long strings cost native speed.
 */
function stringEnd(chunk: Buffer, from: number): number {
  let at = from;
  for (;;) {
    const quote = chunk.indexOf(QUOTE, at);
    if (quote === -1) return -1;
    let backslashes = 0;
    for (let k = quote - 1; k >= from && chunk[k] === BACKSLASH; k--) backslashes++;
    if ((backslashes & 1) === 0) return quote;
    at = quote + 1;
  }
}

/** Whether a chunk that ends inside a string ends on an escaping backslash. */
function endsEscaped(chunk: Buffer, from: number): boolean {
  let backslashes = 0;
  for (let k = chunk.length - 1; k >= from && chunk[k] === BACKSLASH; k--) backslashes++;
  return (backslashes & 1) === 1;
}

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

export class JsonModelEditor {
  private phase = START;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private readonly key = Buffer.alloc(KEY_CAPACITY);
  private keyLength = 0;
  private keyOverflow = false;
  /** Which of the two interesting keys the current top-level value belongs to. */
  private valueOf: 'model' | 'usage' | undefined;
  private replacing = false;
  private usageParts: Buffer[] | undefined;
  private usageBytes = 0;
  private capturedUsage: Buffer | undefined;
  private modelReplaced = false;

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
    this.phase = START;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.keyLength = 0;
    this.keyOverflow = false;
    this.valueOf = undefined;
    this.replacing = false;
    this.usageParts = undefined;
    this.usageBytes = 0;
    this.capturedUsage = undefined;
    this.modelReplaced = false;
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

  /** Whether the document replaced a top-level model (a complete top-level object was seen with one). */
  get replaced(): boolean {
    return this.modelReplaced;
  }

  write(chunk: Buffer): void {
    if (this.phase === PASS) {
      this.push(chunk);
      return;
    }
    const length = chunk.length;
    let phase = this.phase;
    let depth = this.depth;
    let inString = this.inString;
    let escaped = this.escaped;
    // Where output resumes in this chunk (-1 while a model string is being replaced), and where the usage object
    // began in it (0: in an earlier chunk; -1: not in one).
    let emitFrom = this.replacing ? -1 : 0;
    let usageFrom = this.usageParts ? 0 : -1;
    let i = 0;
    while (i < length && phase !== PASS) {
      if (phase === NESTED) {
        for (; i < length; i++) {
          if (inString) {
            if (escaped) {
              escaped = false;
              continue;
            }
            const end = stringEnd(chunk, i);
            if (end === -1) {
              escaped = endsEscaped(chunk, i);
              i = length;
              break;
            }
            i = end;
            inString = false;
            continue;
          }
          const byte = chunk[i]!;
          if (byte === QUOTE) inString = true;
          else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) depth += 1;
          else if ((byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) && --depth === 1) break;
        }
        if (i < length) {
          // The nested value closed at i.
          phase = COMMA_NEXT;
          if (usageFrom >= 0) {
            this.captureUsage(chunk.subarray(usageFrom, i + 1));
            if (this.usageParts) this.capturedUsage = Buffer.concat(this.usageParts);
            this.usageParts = undefined;
            usageFrom = -1;
          }
          i += 1;
        }
        continue;
      }
      if (phase === IN_STRING) {
        if (escaped) {
          escaped = false;
          i += 1;
          continue;
        }
        const end = stringEnd(chunk, i);
        if (end === -1) {
          escaped = endsEscaped(chunk, i);
          break;
        }
        phase = COMMA_NEXT;
        if (this.replacing) {
          this.push(this.replacement);
          this.replacing = false;
          this.modelReplaced = true;
          emitFrom = end + 1;
        }
        i = end + 1;
        continue;
      }
      if (phase === IN_KEY && !escaped) {
        const end = stringEnd(chunk, i);
        if (end !== -1) {
          // The whole (rest of the) key is in this chunk: only its first few bytes matter.
          if (this.keyLength + end - i > KEY_CAPACITY) this.keyOverflow = true;
          else
            for (let k = i; k < end; k++) {
              const byte = chunk[k]!;
              if (byte === BACKSLASH) this.keyOverflow = true;
              this.key[this.keyLength++] = byte;
            }
          phase = COLON_NEXT;
          i = end + 1;
          continue;
        }
      }
      const byte = chunk[i]!;
      switch (phase) {
        case IN_KEY:
          if (escaped) {
            escaped = false;
            this.keyOverflow = true;
          } else if (byte === BACKSLASH) escaped = true;
          else if (byte === QUOTE) phase = COLON_NEXT;
          else if (this.keyLength < KEY_CAPACITY) this.key[this.keyLength++] = byte;
          else this.keyOverflow = true;
          break;
        case KEY:
          if (byte === QUOTE) {
            phase = IN_KEY;
            this.keyLength = 0;
            this.keyOverflow = false;
          } else if (!isSpace(byte)) phase = PASS;
          break;
        case COLON_NEXT:
          if (byte === COLON) {
            phase = VALUE;
            this.valueOf = this.keyIs(MODEL_KEY) ? 'model' : this.keyIs(USAGE_KEY) ? 'usage' : undefined;
          } else if (!isSpace(byte)) phase = PASS;
          break;
        case VALUE:
          if (isSpace(byte)) break;
          if (byte === QUOTE) {
            phase = IN_STRING;
            if (this.valueOf === 'model') {
              if (i > emitFrom) this.push(chunk.subarray(emitFrom, i));
              emitFrom = -1;
              this.replacing = true;
            }
          } else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
            phase = NESTED;
            depth = 2;
            inString = false;
            if (this.valueOf === 'usage' && byte === OPEN_OBJECT) {
              this.usageParts = [];
              this.usageBytes = 0;
              usageFrom = i;
            }
          } else if (byte === COMMA || byte === CLOSE_OBJECT || byte === COLON) phase = PASS;
          else phase = IN_PRIMITIVE;
          break;
        case IN_PRIMITIVE:
          if (byte === COMMA) phase = KEY;
          else if (byte === CLOSE_OBJECT) phase = PASS;
          else if (isSpace(byte)) phase = COMMA_NEXT;
          break;
        case COMMA_NEXT:
          if (byte === COMMA) phase = KEY;
          else if (!isSpace(byte)) phase = PASS;
          break;
        case START:
          if (byte === OPEN_OBJECT) {
            phase = KEY;
            depth = 1;
          } else if (!isSpace(byte)) phase = PASS;
          break;
      }
      i += 1;
    }
    this.phase = phase;
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    if (!this.replacing && emitFrom < length) this.push(emitFrom === 0 ? chunk : chunk.subarray(emitFrom));
    if (usageFrom >= 0) this.captureUsage(chunk.subarray(usageFrom));
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

import { JsonModelEditor } from './json-model-editor';
import type { ErrorBody } from '../../http/errors';

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const DATA = Buffer.from('data:');
const DATA_PREFIX = Buffer.from('data: ');
const LF = Buffer.from('\n');
/** A line longer than this is not held back to be parsed: from there on the stream passes unchanged. */
export const MAX_SSE_LINE_BYTES = 8 * 1024 * 1024;

export interface SseRewriterOptions {
  /** The model name the client asked for, written into every event's top-level `model`. */
  model: string;
  /** Called once, when the first data event (other than [DONE]) goes out: the time to first token. */
  onFirstEvent?: () => void;
  /**
   * The gateway asked the upstream for usage (stream_options.include_usage) and the client did not: the event that
   * carries it with no choices is not passed on, so the client gets the stream it asked for.
   */
  dropUsageEvent?: boolean;
  /** Data payloads kept for a token estimate, up to this many bytes in all (0: none). */
  keepBytes?: number;
}

function startsWith(line: Buffer, prefix: Buffer): boolean {
  return line.length >= prefix.length && line.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

/** Whether an event's JSON has an empty `choices` (the usage chunk); parsed only for the one event with usage. */
function hasNoChoices(payload: Buffer): boolean {
  try {
    const choices = (JSON.parse(payload.toString('utf8')) as { choices?: unknown }).choices;
    return Array.isArray(choices) && choices.length === 0;
  } catch {
    return false;
  }
}

/**
 * Rewrites a stream of server-sent events as it passes: each event's JSON data gets the client's model name and
 * its `usage` is noted; everything else (comments, `event:`/`id:` fields, `[DONE]`) is passed on. Events are
 * parsed line by line as bytes arrive (`write`) and only the unfinished line is held, so memory stays at one line;
 * what is ready to go out is taken with `take`, as one buffer for all the chunks written since the last take.
 * Not a Transform: the caller writes what it takes, so the chunks of one read go out in one write, and the
 * backpressure is the caller's (deliver.ts). Lines end in LF or CRLF, as the upstreams that exist write them.
 */
export class SseModelRewriter {
  private readonly editor: JsonModelEditor;
  private out: Buffer[] = [];
  private pending: Buffer | undefined;
  /** Fields of the event being read, other than data, as written. */
  private fields: Buffer[] = [];
  private data: Buffer[] = [];
  private passThrough = false;
  private broken = false;
  private sawEvent = false;
  private lastUsage: Record<string, unknown> | undefined;
  private dataEvents = 0;
  private dropEvent = false;
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;
  private keptAll = true;

  constructor(private readonly options: SseRewriterOptions) {
    this.editor = new JsonModelEditor(Buffer.from(JSON.stringify(options.model)), (bytes) =>
      this.out.push(bytes),
    );
  }

  /** The last `usage` object an event carried (streams report it in their last chunk, when asked to). */
  usage(): Record<string, unknown> | undefined {
    return this.lastUsage;
  }

  /** The data payloads kept for an estimate; null when they were more than `keepBytes` (or none were kept). */
  keptEvents(): Buffer[] | null {
    return this.keptAll && (this.options.keepBytes ?? 0) > 0 ? this.kept : null;
  }

  /** Data events passed on, [DONE] excluded. */
  get events(): number {
    return this.dataEvents;
  }

  /**
   * The last bytes of a stream that broke off: what was edited and not yet taken, then an error event, the API's
   * one error body, in place of the rest (what the official SDKs raise as an error); a half-received event is
   * dropped. Nothing is written after it.
   */
  breakOff(body: ErrorBody): Buffer {
    this.broken = true;
    this.pending = undefined;
    this.fields = [];
    this.data = [];
    this.out.push(Buffer.from(`data: ${JSON.stringify(body)}\n\n`));
    return this.take()!;
  }

  /** Reads a chunk of the stream; what it completes is edited and waits for `take`. */
  write(chunk: Buffer): void {
    if (this.broken) return;
    if (this.passThrough) {
      this.out.push(chunk);
      return;
    }
    let buffer = chunk;
    if (this.pending) {
      buffer = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let start = 0;
    for (;;) {
      const end = buffer.indexOf(NEWLINE, start);
      if (end === -1) break;
      const lineEnd = end > start && buffer[end - 1] === CARRIAGE_RETURN ? end - 1 : end;
      this.line(buffer.subarray(start, lineEnd));
      start = end + 1;
    }
    if (start < buffer.length) {
      const rest = buffer.subarray(start);
      if (rest.length > MAX_SSE_LINE_BYTES) this.giveUp(rest);
      else this.pending = rest;
    }
  }

  /** At the stream's end: the unfinished line and event, as if a blank line had ended them. */
  end(): void {
    if (this.broken || this.passThrough) return;
    if (this.pending) {
      this.line(this.pending);
      this.pending = undefined;
    }
    if (this.fields.length > 0 || this.data.length > 0) this.dispatch();
  }

  /** What is ready to go out since the last take, as one buffer; undefined when nothing is. */
  take(): Buffer | undefined {
    if (this.out.length === 0) return undefined;
    const bytes = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    this.out = [];
    return bytes;
  }

  private line(line: Buffer): void {
    if (line.length === 0) {
      this.dispatch();
      return;
    }
    if (startsWith(line, DATA)) {
      const value = line[DATA.length] === 0x20 ? DATA.length + 1 : DATA.length;
      this.data.push(line.subarray(value));
    } else this.fields.push(line);
  }

  /** Writes out the event read so far (fields first, then its data), and the blank line that ends it. */
  private dispatch(): void {
    const mark = this.out.length;
    for (const field of this.fields) this.out.push(field, LF);
    this.fields = [];
    if (this.data.length === 1) this.editData(this.data[0]!);
    else if (this.data.length > 1) this.editMultiLineData(this.data);
    this.data = [];
    if (this.dropEvent) {
      this.dropEvent = false;
      this.out.length = mark;
      return;
    }
    this.out.push(LF);
  }

  private editData(payload: Buffer): void {
    this.out.push(DATA_PREFIX);
    this.edit(payload);
    this.out.push(LF);
  }

  /** Data split over several `data:` lines is one document (joined by LF); it goes out the same way. */
  private editMultiLineData(lines: Buffer[]): void {
    const joined: Buffer[] = [];
    lines.forEach((line, i) => joined.push(...(i > 0 ? [LF, line] : [line])));
    const kept = this.out;
    this.out = [];
    this.edit(Buffer.concat(joined));
    const edited = Buffer.concat(this.out);
    this.out = kept;
    let start = 0;
    for (;;) {
      const end = edited.indexOf(NEWLINE, start);
      this.out.push(DATA_PREFIX, edited.subarray(start, end === -1 ? edited.length : end), LF);
      if (end === -1) break;
      start = end + 1;
    }
  }

  private edit(payload: Buffer): void {
    this.editor.reset();
    this.editor.write(payload);
    const usage = this.editor.usage();
    if (payload.length === 6 && payload.toString('latin1') === '[DONE]') return;
    if (usage) {
      this.lastUsage = usage;
      if (this.options.dropUsageEvent && hasNoChoices(payload)) {
        this.dropEvent = true;
        return;
      }
    }
    this.keep(payload);
    this.dataEvents += 1;
    if (!this.sawEvent) {
      this.sawEvent = true;
      this.options.onFirstEvent?.();
    }
  }

  private keep(payload: Buffer): void {
    const limit = this.options.keepBytes ?? 0;
    if (limit === 0 || !this.keptAll) return;
    this.keptBytes += payload.length;
    if (this.keptBytes > limit) {
      this.keptAll = false;
      this.kept.length = 0;
      return;
    }
    // A copy: the payload is a view of the chunk, which would otherwise be held whole.
    this.kept.push(Buffer.from(payload));
  }

  /** An oversized line: what is held goes out as it came, and so does everything after it. */
  private giveUp(rest: Buffer): void {
    for (const field of this.fields) this.out.push(field, LF);
    for (const data of this.data) this.out.push(DATA_PREFIX, data, LF);
    this.fields = [];
    this.data = [];
    this.out.push(rest);
    this.passThrough = true;
  }
}

/** One finished chat completion or embedding, as the usage ledger records it and the limiter settles it. */
export interface CompletionRecord {
  requestId: string;
  keyId: string;
  userId: string;
  kind: 'chat' | 'embedding';
  /** The public model name the client asked for. */
  model: string;
  /** The upstream that answered, and the model id it was sent; null when none was reached. */
  upstream: string | null;
  upstreamModel: string | null;
  /** The HTTP status the client got (499 when it went away first). */
  status: number;
  promptTokens: number;
  completionTokens: number;
  /** True when the upstream reported no usage and the gateway counted with a tokenizer. */
  estimated: boolean;
  durationMs: number;
  /** Time to the first byte of the answer (first token for streams); null when there was none. */
  ttftMs: number | null;
  at: Date;
}

/** Told about every finished completion, off the response path; must not throw or block. */
export interface CompletionListener {
  onCompletion(record: CompletionRecord): void;
}

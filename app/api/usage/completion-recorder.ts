import type { Logger } from '../../../core/logger';
import type { KeptAnswer } from '../routing/outcome';
import type { CompletionListener, CompletionRecord } from './completion-record';
import type { TokenCounter } from './token-counter';
import type { UsageMetrics } from './usage-metrics';
import {
  chatPromptTexts,
  completionAnswerText,
  embeddingPromptTexts,
  reportedTokens,
  streamAnswerText,
  type PromptTexts,
  type ReportedTokens,
} from './usage-texts';

export type { KeptAnswer };

/** One finished chat completion or embedding, as routing reports it. */
export interface FinishedCall {
  requestId: string;
  keyId: string;
  userId: string;
  endpoint: 'chat' | 'embeddings';
  model: string;
  upstream: string | null;
  upstreamModel: string | null;
  status: number;
  /** An upstream answered, so it spent tokens (also when the answer broke off or the client left). */
  served: boolean;
  /** The upstream's `usage` (a stream's last one); null when it reported none. */
  usage: Record<string, unknown> | null;
  /** The body sent upstream: the prompt, for an estimate. */
  body: Record<string, unknown>;
  /** What was kept of the answer for an estimate; null when nothing was (no answer, or too large to keep). */
  answer: KeptAnswer | null;
  durationMs: number;
  ttftMs: number | null;
}

export interface CompletionRecorderOptions {
  counter: TokenCounter;
  logger: Logger;
  metrics?: Pick<UsageMetrics, 'tokens'>;
  now?: () => number;
}

/** When the tokenizer cannot be had: about four characters per token, OpenAI's rule of thumb for English. */
function roughTokens(texts: readonly string[]): number {
  let characters = 0;
  for (const text of texts) characters += text.length;
  return Math.ceil(characters / 4);
}

function answerText(answer: KeptAnswer | null): string {
  if (!answer) return '';
  if (answer.kind === 'json') return completionAnswerText(Buffer.concat(answer.chunks).toString('utf8'));
  return streamAnswerText(answer.events.map((event) => event.toString('utf8')));
}

/**
 * Makes one CompletionRecord per finished chat completion and embedding, failed ones included, and hands it to
 * every registered listener (the usage ledger, the limiter settling what it reserved). Tokens come from the
 * upstream's usage; without one they are counted with the tokenizer (on its own thread) and the record is marked
 * estimated, so that record is handed on a little later. A call no upstream answered spent nothing: zero tokens.
 */
export class CompletionRecorder {
  private readonly listeners: CompletionListener[] = [];
  private readonly estimating = new Set<Promise<void>>();
  private readonly now: () => number;
  private tokenizerFailed = false;

  constructor(private readonly options: CompletionRecorderOptions) {
    this.now = options.now ?? Date.now;
  }

  register(listener: CompletionListener): void {
    this.listeners.push(listener);
  }

  finished(call: FinishedCall): void {
    const at = new Date(this.now());
    const reported = reportedTokens(call.usage);
    if (reported || !call.served) {
      this.deliver(this.record(call, reported ?? { promptTokens: 0, completionTokens: 0 }, false, at));
      return;
    }
    const work = this.estimate(call).then(
      (tokens) => this.deliver(this.record(call, tokens, true, at)),
      (error: unknown) =>
        this.options.logger.error({ err: error, requestId: call.requestId }, 'no usage record'),
    );
    this.estimating.add(work);
    void work.finally(() => this.estimating.delete(work));
  }

  /** Resolves once the estimates under way have been handed on (at shutdown, before the ledger's last flush). */
  async idle(): Promise<void> {
    while (this.estimating.size > 0) await Promise.allSettled([...this.estimating]);
  }

  private async estimate(call: FinishedCall): Promise<ReportedTokens> {
    const prompt: PromptTexts =
      call.endpoint === 'chat' ? chatPromptTexts(call.body) : embeddingPromptTexts(call.body);
    const answer = call.endpoint === 'chat' ? answerText(call.answer) : '';
    const texts = answer === '' ? prompt.texts : [...prompt.texts, answer];
    let counts: number[];
    try {
      counts = await this.options.counter.count(texts);
    } catch (error) {
      if (!this.tokenizerFailed)
        this.options.logger.error(
          { err: error },
          'the tokenizer is unavailable; usage without upstream counts is estimated at 4 characters per token',
        );
      this.tokenizerFailed = true;
      counts = [roughTokens(prompt.texts), ...(answer === '' ? [] : [roughTokens([answer])])];
      return { promptTokens: prompt.extraTokens + counts[0]!, completionTokens: counts[1] ?? 0 };
    }
    const promptTokens = counts.slice(0, prompt.texts.length).reduce((a, b) => a + b, 0);
    const completionTokens = answer === '' ? 0 : counts[prompt.texts.length]!;
    return { promptTokens: prompt.extraTokens + promptTokens, completionTokens };
  }

  private record(call: FinishedCall, tokens: ReportedTokens, estimated: boolean, at: Date): CompletionRecord {
    return {
      requestId: call.requestId,
      keyId: call.keyId,
      userId: call.userId,
      kind: call.endpoint === 'chat' ? 'chat' : 'embedding',
      model: call.model,
      upstream: call.upstream,
      upstreamModel: call.upstreamModel,
      status: call.status,
      promptTokens: tokens.promptTokens,
      completionTokens: call.endpoint === 'chat' ? tokens.completionTokens : 0,
      estimated,
      durationMs: Math.max(0, Math.round(call.durationMs)),
      ttftMs: call.ttftMs === null ? null : Math.max(0, Math.round(call.ttftMs)),
      at,
    };
  }

  private deliver(record: CompletionRecord): void {
    const tokens = this.options.metrics?.tokens;
    if (tokens) {
      const estimated = String(record.estimated);
      if (record.promptTokens > 0)
        tokens.inc({ model: record.model, kind: 'prompt', estimated }, record.promptTokens);
      if (record.completionTokens > 0)
        tokens.inc({ model: record.model, kind: 'completion', estimated }, record.completionTokens);
    }
    for (const listener of this.listeners) {
      try {
        listener.onCompletion(record);
      } catch (error) {
        this.options.logger.error(
          { err: error, requestId: record.requestId },
          'a completion listener failed',
        );
      }
    }
  }
}

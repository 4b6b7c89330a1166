/**
 * What is counted when an upstream reports no usage: the texts of the request (chat messages, embedding inputs) and
 * of the answer (the message, or a stream's deltas), read from the JSON the gateway already holds. The per-message
 * overhead follows OpenAI's published rule for its chat format (3 tokens per message, 3 to prime the reply), which
 * no other model shares exactly: the result is an estimate and recorded as one.
 */

export interface ReportedTokens {
  promptTokens: number;
  completionTokens: number;
}

const TOKENS_PER_MESSAGE = 3;
const REPLY_PRIMING = 3;

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
}

/**
 * The counts of an upstream's `usage` object (OpenAI's prompt/completion_tokens, or input/output_tokens as some
 * servers write them); undefined when it holds no prompt count.
 */
export function reportedTokens(
  usage: Record<string, unknown> | null | undefined,
): ReportedTokens | undefined {
  if (!usage) return undefined;
  const prompt = count(usage.prompt_tokens) ?? count(usage.input_tokens);
  if (prompt === undefined) return undefined;
  const total = count(usage.total_tokens);
  const completion =
    count(usage.completion_tokens) ??
    count(usage.output_tokens) ??
    (total !== undefined && total >= prompt ? total - prompt : 0);
  return { promptTokens: prompt, completionTokens: completion };
}

/** What a prompt comes to: texts for the tokenizer, plus tokens known without it. */
export interface PromptTexts {
  texts: string[];
  /** Format overhead, and embedding inputs given as token arrays (counted as they are). */
  extraTokens: number;
}

function pushText(texts: string[], value: unknown): void {
  if (typeof value === 'string' && value !== '') texts.push(value);
}

/** A message's content: a string, or parts of which the text ones count (images are not estimated). */
function pushContent(texts: string[], content: unknown): void {
  if (typeof content === 'string') pushText(texts, content);
  else if (Array.isArray(content))
    for (const part of content)
      if (part && typeof part === 'object') pushText(texts, (part as { text?: unknown }).text);
}

function pushToolCalls(texts: string[], calls: unknown): void {
  if (!Array.isArray(calls)) return;
  for (const call of calls) {
    const fn = (call as { function?: { name?: unknown; arguments?: unknown } } | null)?.function;
    pushText(texts, fn?.name);
    pushText(texts, fn?.arguments);
  }
}

export function chatPromptTexts(body: Record<string, unknown>): PromptTexts {
  const texts: string[] = [];
  const messages = Array.isArray(body.messages) ? body.messages : [];
  for (const message of messages) {
    if (!message || typeof message !== 'object') continue;
    const m = message as Record<string, unknown>;
    pushText(texts, m.role);
    pushText(texts, m.name);
    pushContent(texts, m.content);
    pushToolCalls(texts, m.tool_calls);
  }
  // Tool definitions are part of the prompt the model reads.
  if (Array.isArray(body.tools) && body.tools.length > 0) texts.push(JSON.stringify(body.tools));
  return { texts, extraTokens: messages.length * TOKENS_PER_MESSAGE + REPLY_PRIMING };
}

export function embeddingPromptTexts(body: Record<string, unknown>): PromptTexts {
  const texts: string[] = [];
  let extraTokens = 0;
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  // One array of numbers is one input given as tokens; an array of such arrays is several.
  if (inputs.length > 0 && inputs.every((v) => typeof v === 'number'))
    return { texts, extraTokens: inputs.length };
  for (const input of inputs) {
    if (typeof input === 'string') pushText(texts, input);
    else if (Array.isArray(input)) extraTokens += input.length;
  }
  return { texts, extraTokens };
}

/** The generated text of a chat.completion body (one JSON document). */
export function completionAnswerText(body: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return '';
  }
  const texts: string[] = [];
  const choices = (parsed as { choices?: unknown } | null)?.choices;
  if (Array.isArray(choices))
    for (const choice of choices) {
      const message = (choice as { message?: Record<string, unknown> } | null)?.message;
      if (!message) continue;
      pushText(texts, message.reasoning_content);
      pushText(texts, message.refusal);
      pushContent(texts, message.content);
      pushToolCalls(texts, message.tool_calls);
    }
  return texts.join('');
}

/** The generated text of a stream: its events' deltas joined (a delta is often less than one token). */
export function streamAnswerText(events: readonly string[]): string {
  const texts: string[] = [];
  for (const event of events) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(event);
    } catch {
      continue;
    }
    const choices = (parsed as { choices?: unknown } | null)?.choices;
    if (!Array.isArray(choices)) continue;
    for (const choice of choices) {
      const delta = (choice as { delta?: Record<string, unknown> } | null)?.delta;
      if (!delta) continue;
      pushText(texts, delta.reasoning_content);
      pushText(texts, delta.refusal);
      pushText(texts, delta.content);
      pushToolCalls(texts, delta.tool_calls);
    }
  }
  return texts.join('');
}

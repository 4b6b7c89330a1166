/**
 * The token estimate a request is admitted on before the upstream has counted anything: the request body's size in
 * bytes / 4 for the prompt (about four bytes of JSON per token; JSON framing makes it a little high, which the
 * settling refunds), plus the completion the request allows: `max_completion_tokens`, else `max_tokens`, else
 * `defaultCompletionTokens`, times `n` choices. Embeddings have no completion.
 */
export interface TokenEstimate {
  prompt: number;
  completion: number;
  total: number;
}

export const BYTES_PER_TOKEN = 4;

export function estimateTokens(
  endpoint: 'chat' | 'embeddings',
  body: Record<string, unknown>,
  bodyBytes: number,
  defaultCompletionTokens: number,
): TokenEstimate {
  const prompt = Math.ceil(bodyBytes / BYTES_PER_TOKEN);
  const completion = endpoint === 'embeddings' ? 0 : completionAllowance(body, defaultCompletionTokens);
  return { prompt, completion, total: prompt + completion };
}

function completionAllowance(body: Record<string, unknown>, fallback: number): number {
  const max = count(body.max_completion_tokens) ?? count(body.max_tokens) ?? fallback;
  const choices = count(body.n) ?? 1;
  return max * Math.max(1, choices);
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

import { Registry } from 'prom-client';
import type { CompletionRecord } from '../../../app/api/usage/completion-record';
import { CompletionRecorder, type FinishedCall } from '../../../app/api/usage/completion-recorder';
import type { TokenCounter } from '../../../app/api/usage/token-counter';
import { createUsageMetrics } from '../../../app/api/usage/usage-metrics';
import {
  chatPromptTexts,
  completionAnswerText,
  embeddingPromptTexts,
  reportedTokens,
  streamAnswerText,
} from '../../../app/api/usage/usage-texts';
import { silentLogger } from '../../../core/logger';

/** Counts one token per word, so expectations can be worked out by hand. */
class WordCounter implements TokenCounter {
  calls: string[][] = [];
  count(texts: readonly string[]): Promise<number[]> {
    this.calls.push([...texts]);
    return Promise.resolve(texts.map((text) => text.split(/\s+/).filter(Boolean).length));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

class BrokenCounter implements TokenCounter {
  count(): Promise<number[]> {
    return Promise.reject(new Error('the tokenizer thread exited (1)'));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function call(overrides: Partial<FinishedCall> = {}): FinishedCall {
  return {
    requestId: 'req-1',
    keyId: 'key-1',
    userId: 'user-1',
    endpoint: 'chat',
    model: 'm',
    upstream: 'u',
    upstreamModel: 'um',
    status: 200,
    served: true,
    usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 },
    body: { model: 'm', messages: [{ role: 'user', content: 'hello there' }] },
    answer: null,
    durationMs: 20.4,
    ttftMs: 3.6,
    ...overrides,
  };
}

function setup(counter: TokenCounter = new WordCounter()) {
  const registry = new Registry();
  const metrics = createUsageMetrics(registry);
  const recorder = new CompletionRecorder({ counter, logger: silentLogger(), metrics, now: () => 1_000 });
  const records: CompletionRecord[] = [];
  recorder.register({ onCompletion: (record) => records.push(record) });
  return { recorder, records, registry };
}

describe('usage texts', () => {
  it('reads OpenAI usage, input/output usage, and a total without a completion count', () => {
    expect(reportedTokens({ prompt_tokens: 3, completion_tokens: 4 })).toEqual({
      promptTokens: 3,
      completionTokens: 4,
    });
    expect(reportedTokens({ input_tokens: 5, output_tokens: 6 })).toEqual({
      promptTokens: 5,
      completionTokens: 6,
    });
    expect(reportedTokens({ prompt_tokens: 5, total_tokens: 9 })).toEqual({
      promptTokens: 5,
      completionTokens: 4,
    });
    expect(reportedTokens({ completion_tokens: 4 })).toBeUndefined();
    expect(reportedTokens({ prompt_tokens: -1 })).toBeUndefined();
    expect(reportedTokens(null)).toBeUndefined();
  });

  it('takes message texts, text parts, tool calls and tools from a chat body, with the format overhead', () => {
    const prompt = chatPromptTexts({
      messages: [
        { role: 'system', content: 'be brief' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'look' },
            { type: 'image_url', image_url: { url: 'data:' } },
          ],
        },
        { role: 'assistant', tool_calls: [{ function: { name: 'f', arguments: '{"a":1}' } }] },
      ],
      tools: [{ type: 'function', function: { name: 'f' } }],
    });
    expect(prompt.texts).toEqual([
      'system',
      'be brief',
      'user',
      'look',
      'assistant',
      'f',
      '{"a":1}',
      JSON.stringify([{ type: 'function', function: { name: 'f' } }]),
    ]);
    expect(prompt.extraTokens).toBe(3 * 3 + 3);
  });

  it('takes embedding inputs as strings, and counts token arrays as they are', () => {
    expect(embeddingPromptTexts({ input: 'one two' })).toEqual({ texts: ['one two'], extraTokens: 0 });
    expect(embeddingPromptTexts({ input: ['a', 'b'] })).toEqual({ texts: ['a', 'b'], extraTokens: 0 });
    expect(embeddingPromptTexts({ input: [1, 2, 3] })).toEqual({ texts: [], extraTokens: 3 });
    expect(embeddingPromptTexts({ input: [[1, 2], [3]] })).toEqual({ texts: [], extraTokens: 3 });
  });

  it("reads an answer's message and a stream's deltas, skipping what is not JSON", () => {
    const body = JSON.stringify({ choices: [{ message: { role: 'assistant', content: 'the answer' } }] });
    expect(completionAnswerText(body)).toBe('the answer');
    expect(completionAnswerText('{"choices":')).toBe('');
    const events = [
      '{"choices":[{"delta":{"content":"the "}}]}',
      '{"choices":[{"delta":{"content":"end"}}]}',
    ];
    expect(streamAnswerText([...events, '[DONE]'])).toBe('the end');
  });
});

describe('CompletionRecorder', () => {
  it("records the upstream's counts, rounds the timings and counts tokens by model and kind", async () => {
    const { recorder, records, registry } = setup();
    recorder.finished(call());
    expect(records).toEqual([
      {
        requestId: 'req-1',
        keyId: 'key-1',
        userId: 'user-1',
        kind: 'chat',
        model: 'm',
        upstream: 'u',
        upstreamModel: 'um',
        status: 200,
        promptTokens: 11,
        completionTokens: 7,
        estimated: false,
        durationMs: 20,
        ttftMs: 4,
        at: new Date(1_000),
      },
    ]);
    const text = await registry.metrics();
    expect(text).toContain('modelgate_usage_tokens_total{model="m",kind="prompt",estimated="false"} 11');
    expect(text).toContain('modelgate_usage_tokens_total{model="m",kind="completion",estimated="false"} 7');
  });

  it('records a call no upstream answered with zero tokens, at once', () => {
    const counter = new WordCounter();
    const { recorder, records } = setup(counter);
    recorder.finished(call({ served: false, usage: null, upstream: null, upstreamModel: null, status: 503 }));
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ status: 503, promptTokens: 0, completionTokens: 0, estimated: false });
    expect(counter.calls).toEqual([]);
  });

  it('estimates a chat answer without usage from the prompt and the kept stream, marked estimated', async () => {
    const { recorder, records, registry } = setup();
    const events = ['{"choices":[{"delta":{"content":"three word answer"}}]}'].map((e) => Buffer.from(e));
    recorder.finished(call({ usage: null, answer: { kind: 'sse', events } }));
    expect(records).toEqual([]);
    await recorder.idle();
    // "user" + "hello there" = 3 words, 1 message * 3 + 3 priming; the answer is 3 words.
    expect(records[0]).toMatchObject({ promptTokens: 3 + 6, completionTokens: 3, estimated: true });
    expect(await registry.metrics()).toContain(
      'modelgate_usage_tokens_total{model="m",kind="completion",estimated="true"} 3',
    );
  });

  it('estimates a JSON answer and an embedding (which has no completion tokens)', async () => {
    const { recorder, records } = setup();
    const body = Buffer.from(JSON.stringify({ choices: [{ message: { content: 'two words' } }] }));
    recorder.finished(
      call({ usage: null, answer: { kind: 'json', chunks: [body.subarray(0, 5), body.subarray(5)] } }),
    );
    recorder.finished(
      call({ requestId: 'req-2', endpoint: 'embeddings', usage: null, body: { input: ['a b c', 'd'] } }),
    );
    await recorder.idle();
    expect(records.find((r) => r.requestId === 'req-1')).toMatchObject({
      completionTokens: 2,
      estimated: true,
    });
    expect(records.find((r) => r.requestId === 'req-2')).toMatchObject({
      kind: 'embedding',
      promptTokens: 4,
      completionTokens: 0,
      estimated: true,
    });
  });

  it('falls back to four characters per token when the tokenizer fails, still recording', async () => {
    const { recorder, records } = setup(new BrokenCounter());
    recorder.finished(call({ usage: null, body: { messages: [{ role: 'user', content: 'x'.repeat(40) }] } }));
    await recorder.idle();
    // "user" (4) + 40 characters = 44 -> 11 tokens, plus 6 of format overhead.
    expect(records[0]).toMatchObject({ promptTokens: 17, completionTokens: 0, estimated: true });
  });

  it('hands every record to every listener, past one that throws', () => {
    const { recorder, records } = setup();
    recorder.register({
      onCompletion() {
        throw new Error('listener bug');
      },
    });
    const second: CompletionRecord[] = [];
    recorder.register({ onCompletion: (record) => second.push(record) });
    recorder.finished(call());
    expect(records).toHaveLength(1);
    expect(second).toHaveLength(1);
  });
});

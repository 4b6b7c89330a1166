import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { JsonModelEditor } from '../../../../app/api/routing/json-model-editor';
import { JsonModelRewriter } from '../../../../app/api/routing/json-rewriter';
import { SseModelRewriter } from '../../../../app/api/routing/sse-rewriter';
import { errorBodySchema } from '../../../../app/http/errors';
import { streamBroken } from '../../../../app/api/routing/routing-errors';

/** Runs the editor over `text` cut into pieces at `cuts` (byte offsets); returns the output and what it noted. */
function edit(text: string, replacement: string, cuts: number[] = []) {
  const bytes = Buffer.from(text);
  const out: Buffer[] = [];
  const editor = new JsonModelEditor(Buffer.from(JSON.stringify(replacement)), (b) =>
    out.push(Buffer.from(b)),
  );
  let from = 0;
  for (const cut of [...new Set(cuts)].filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b)) {
    editor.write(bytes.subarray(from, cut));
    from = cut;
  }
  editor.write(bytes.subarray(from));
  return { text: Buffer.concat(out).toString('utf8'), usage: editor.usage(), replaced: editor.replaced };
}

/** What the editor must produce, by the canonical route: parse, replace, compare as values. */
function expected(value: Record<string, unknown>, replacement: string): Record<string, unknown> {
  return typeof value.model === 'string' ? { ...value, model: replacement } : value;
}

async function collect(stream: Readable | NodeJS.ReadableStream): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of stream as AsyncIterable<Buffer>) parts.push(part);
  return Buffer.concat(parts).toString('utf8');
}

describe('JsonModelEditor', () => {
  it('replaces the top-level model and notes usage, leaving every other byte as it was', () => {
    const text =
      '{"id":"c1","object":"chat.completion","model":"0xabc","choices":[{"message":{"content":"say \\"model\\": no","model":"inner"}}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}';
    const result = edit(text, 'llama-3.3-70b');
    expect(result.text).toBe(text.replace('"model":"0xabc"', '"model":"llama-3.3-70b"'));
    expect(result.replaced).toBe(true);
    expect(result.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
  });

  it('handles embeddings answers, whose model comes after the data, and spacing of any kind', () => {
    const text = '{\n  "object": "list",\n  "data": [{"embedding": [0.1, -2e-5]}],\n  "model" :\t"0xe"\n}\n';
    expect(edit(text, 'text-embedding').text).toBe(text.replace('"0xe"', '"text-embedding"'));
  });

  it('passes input that is not a JSON object through untouched', () => {
    for (const text of ['[DONE]', '[{"model":"x"}]', 'plain text', '"model"', '{"model" 1}', ''])
      expect(edit(text, 'x').text).toBe(text);
  });

  it('escapes the replacement as JSON', () => {
    const result = edit('{"model":"a"}', 'we"ird\\name');
    expect(JSON.parse(result.text)).toEqual({ model: 'we"ird\\name' });
  });

  it('agrees with JSON.parse + replace for any object, however its bytes are cut (property)', () => {
    const json = fc.jsonValue({ maxDepth: 3 });
    // Escapes and quotes in runs, multi-byte characters: what a cut inside a string can land on.
    const tricky = fc
      .array(fc.constantFrom('\\', '"', '\\\\', 'a', 'é', '\n', '{', ']', '😀'), { maxLength: 12 })
      .map((parts) => parts.join(''));
    const document = fc.record(
      {
        model: fc.oneof(fc.string(), tricky, json),
        tricky: fc.dictionary(tricky, fc.oneof(tricky, fc.array(tricky, { maxLength: 3 }))),
        usage: fc.oneof(fc.dictionary(fc.string({ maxLength: 4 }), fc.integer()), json),
        other: json,
        data: fc.array(fc.record({ model: fc.string(), embedding: fc.array(fc.double({ noNaN: true })) })),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        document,
        fc.dictionary(fc.string({ maxLength: 6 }), json, { maxKeys: 3 }),
        fc.string(),
        fc.array(fc.nat(4000)),
        fc.constantFrom(undefined, 2, '\t'),
        (doc, extra, replacement, cuts, space) => {
          const value = { ...extra, ...doc } as Record<string, unknown>;
          const text = JSON.stringify(value, null, space);
          const result = edit(text, replacement, cuts);
          expect(JSON.parse(result.text)).toEqual(JSON.parse(JSON.stringify(expected(value, replacement))));
          const usage = value.usage;
          if (usage !== null && typeof usage === 'object' && !Array.isArray(usage))
            expect(result.usage).toEqual(JSON.parse(JSON.stringify(usage)));
          else expect(result.usage).toBeUndefined();
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('JsonModelRewriter (a Transform)', () => {
  it('rewrites a body that arrives one byte at a time', async () => {
    const body = '{"model":"0xaaaa","usage":{"total_tokens":3},"choices":[]}';
    const rewriter = new JsonModelRewriter('mistral');
    const out = collect(rewriter);
    await pipeline(Readable.from([...Buffer.from(body)].map((b) => Buffer.from([b]))), rewriter);
    expect(JSON.parse(await out)).toEqual({ model: 'mistral', usage: { total_tokens: 3 }, choices: [] });
    expect(rewriter.usage()).toEqual({ total_tokens: 3 });
  });
});

describe('SseModelRewriter', () => {
  const chunk = (n: number, extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: '0xup', choices: [{ delta: { content: `p${n}` } }], ...extra })}\n\n`;

  /** Writes the pieces one by one, taking what is ready after each (as deliver does once per read), then ends. */
  function rewrite(rewriter: SseModelRewriter, pieces: Buffer[]): string {
    const out: Buffer[] = [];
    const take = () => {
      const bytes = rewriter.take();
      if (bytes) out.push(Buffer.from(bytes));
    };
    for (const piece of pieces) {
      rewriter.write(piece);
      take();
    }
    rewriter.end();
    take();
    return Buffer.concat(out).toString('utf8');
  }

  function run(input: string[], model = 'llama') {
    const firsts: number[] = [];
    const rewriter = new SseModelRewriter({ model, onFirstEvent: () => firsts.push(Date.now()) });
    const text = rewrite(
      rewriter,
      input.map((s) => Buffer.from(s)),
    );
    return { text, rewriter, firsts };
  }

  it("puts the client's model into every event, keeps other fields and [DONE], notes the last usage", async () => {
    const input = [
      ': keep-alive\n\n',
      chunk(1),
      'event: message\nid: 7\n',
      chunk(2),
      chunk(3, { usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 }, choices: [] }),
      'data: [DONE]\n\n',
    ];
    const { text, rewriter, firsts } = run(input);
    expect(text).toBe(input.join('').replaceAll('"model":"0xup"', '"model":"llama"'));
    expect(rewriter.usage()).toEqual({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
    expect(rewriter.events).toBe(3);
    expect(firsts).toHaveLength(1);
  });

  it('gives the same output however the bytes are cut, CRLF line ends included (property)', () => {
    const whole = [chunk(1), chunk(2), ': c\n\n', chunk(3), 'data: [DONE]\n\n'].join('');
    const expectedText = whole.replaceAll('"model":"0xup"', '"model":"m"');
    fc.assert(
      fc.property(fc.array(fc.nat(whole.length), { maxLength: 20 }), fc.boolean(), (cuts, crlf) => {
        const source = crlf ? whole.replaceAll('\n', '\r\n') : whole;
        const bytes = Buffer.from(source);
        const points = [...new Set([0, ...cuts.filter((c) => c < bytes.length), bytes.length])].sort(
          (a, b) => a - b,
        );
        const pieces = points.slice(1).map((end, i) => bytes.subarray(points[i], end).toString('latin1'));
        const rewriter = new SseModelRewriter({ model: 'm' });
        expect(
          rewrite(
            rewriter,
            pieces.map((p) => Buffer.from(p, 'latin1')),
          ),
        ).toBe(expectedText);
      }),
      { numRuns: 200 },
    );
  });

  it('joins multi-line data into one document and writes it back on several lines', () => {
    const { text } = run(['data: {"model":\ndata: "0xup", "x": 1}\n\n']);
    expect(text).toBe('data: {"model":\ndata: "m2", "x": 1}\n\n'.replace('m2', 'llama'));
  });

  it('ends a broken stream with an OpenAI-style error event and drops the half-received event', () => {
    const rewriter = new SseModelRewriter({ model: 'llama' });
    rewriter.write(Buffer.from(chunk(1)));
    rewriter.write(Buffer.from('data: {"model":"0xup","choi'));
    const text = rewriter.breakOff(streamBroken().toJSON()).toString('utf8');
    // Nothing follows the error event, whatever else arrives.
    rewriter.write(Buffer.from('"}\n\n'));
    rewriter.end();
    expect(rewriter.take()).toBeUndefined();
    const events = text.split('\n\n').filter(Boolean);
    expect(events).toHaveLength(2);
    expect(JSON.parse(events[0]!.slice(6)).model).toBe('llama');
    // The API's one error body, as every error answer has it.
    const error = errorBodySchema().parse(JSON.parse(events[1]!.slice(6)));
    expect(error).toEqual({
      error: {
        message: expect.stringContaining('The upstream broke off the answer midway'),
        type: 'upstream_error',
        code: 'upstream_stream_broken',
        param: null,
      },
    });
  });

  it('passes an oversized line on unchanged instead of holding it', () => {
    const big = `data: {"model":"0xup","x":"${'a'.repeat(9 * 1024 * 1024)}"}\n\n`;
    const { text } = run([big.slice(0, 9 * 1024 * 1024), big.slice(9 * 1024 * 1024), chunk(2)]);
    expect(text).toBe(big + chunk(2));
  });
});

import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { WorkerTokenCounter, tokenizerScript } from '../../../app/api/usage/token-counter';

describe('WorkerTokenCounter (the built tokenizer thread)', () => {
  const counter = new WorkerTokenCounter();
  afterAll(() => counter.close());

  it('is not started until the first count, then counts o200k_base tokens off the main thread', async () => {
    expect(tokenizerScript()).toMatch(/(modelgate-tokenizer|tokenizer-worker)\.js$/);
    expect(counter.started).toBe(false);
    const texts = ['Hello, world!', 'a user typed <|endoftext|> here', ''];
    const counts = await counter.count(texts);
    expect(counter.started).toBe(true);
    expect(counts[0]).toBe(countTokens(texts[0]!));
    expect(counts[1]).toBeGreaterThan(5);
    expect(counts[2]).toBe(0);
  });

  it('answers concurrent counts each with its own result', async () => {
    const texts = Array.from({ length: 20 }, (_, i) => 'word '.repeat(i + 1));
    const results = await Promise.all(texts.map((text) => counter.count([text])));
    expect(results.map(([n]) => n)).toEqual(texts.map((text) => countTokens(text)));
  });

  it('rejects a count when the thread cannot start', async () => {
    const broken = new WorkerTokenCounter(() => '/nonexistent/modelgate-tokenizer.js');
    await expect(broken.count(['x'])).rejects.toThrow();
    await broken.close();
  });
});

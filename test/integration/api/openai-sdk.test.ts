import OpenAI from 'openai';
import { expectNoSecretsLogged, startApi, testModels, type ApiHarness } from '../../support/api/api-harness';
import { UpstreamServer } from '../../support/api/upstream-server';

jest.setTimeout(60_000);

describe('compatibility with the official openai npm package', () => {
  let upstream: UpstreamServer;
  let h: ApiHarness;
  let client: OpenAI;

  beforeAll(async () => {
    upstream = await new UpstreamServer().start();
    h = await startApi({ env: { UPSTREAM_URL: upstream.url } });
    const { key } = await h.createUser();
    client = new OpenAI({ apiKey: key, baseURL: `${h.url}/v1`, maxRetries: 0, timeout: 10_000 });
  });
  afterAll(async () => {
    expectNoSecretsLogged(h);
    await h.close();
    await upstream.close();
  });

  it('lists models and retrieves one whose name has a slash and a colon', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids.sort()).toEqual(testModels.map((m) => m.id).sort());
    const model = await client.models.retrieve('meta/llama:8b');
    expect(model).toMatchObject({ id: 'meta/llama:8b', object: 'model', owned_by: '0xowner' });
  });

  it('creates a chat completion', async () => {
    const completion = await client.chat.completions.create({
      model: 'mistral-31-24b',
      messages: [{ role: 'user', content: 'hello sdk' }],
    });
    expect(completion.choices[0]!.message.content).toBe('echo: hello sdk');
    expect(upstream.requests.at(-1)!.body.model).toBe('0x' + 'a'.repeat(64));
  });

  it('streams a chat completion', async () => {
    const stream = await client.chat.completions.create({
      model: 'llama 3.3 70b',
      messages: [{ role: 'user', content: 'stream please' }],
      stream: true,
    });
    const parts: string[] = [];
    for await (const chunk of stream) parts.push(chunk.choices[0]?.delta?.content ?? '');
    expect(parts.join('')).toBe('part1 part2 part3 ');
  });

  it("surfaces gateway errors as the SDK's typed errors", async () => {
    await expect(
      client.chat.completions.create({ model: 'mistral-31-24', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
    const anonymous = new OpenAI({ apiKey: 'sk-wrong', baseURL: `${h.url}/v1`, maxRetries: 0 });
    await expect(anonymous.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });
});

import { buildArtifact, type ArtifactModel } from '../../../core/artifact/schema';
import { createSnapshot, staticCatalog } from '../../../app/catalog/catalog';
import { ChatCompletionService } from '../../../app/api/chat-completions/chat-completion-service';
import { ModelService } from '../../../app/api/models/model-service';
import { levenshtein, nearMisses } from '../../../app/api/models/near-miss';
import { artifactModel } from '../../support/models.mjs';

const model = (id: string, upstreamId: string, type: ArtifactModel['type'] = 'LLM'): ArtifactModel =>
  artifactModel(id, { upstreamId, type, tags: [], createdAt: 1, stake: null, fee: null });
const models = [
  model('mistral-31-24b', 'up-mistral'),
  model('mistral-large', 'up-large'),
  model('llama-3-70b', 'up-llama'),
  model('llama-3-8b', 'up-llama8'),
  model('embed', 'up-embed', 'EMBEDDING'),
];
const catalog = staticCatalog(
  createSnapshot(
    buildArtifact({
      models,
      source: { url: 'x', etag: null, lastModified: null },
      fetchedAt: new Date(0).toISOString(),
    }),
    'x',
  ),
);

describe('near misses', () => {
  it('computes edit distances', () => {
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(levenshtein('', 'abc')).toBe(3);
    expect(levenshtein('same', 'same')).toBe(0);
  });

  it('suggests at most three close names, best first, and nothing for unrelated names', () => {
    expect(
      nearMisses(
        'mistral-31-24',
        models.map((m) => m.id),
      )[0],
    ).toBe('mistral-31-24b');
    expect(
      nearMisses(
        'LLAMA-3-70B',
        models.map((m) => m.id),
      )[0],
    ).toBe('llama-3-70b');
    expect(nearMisses('llama', ['llama-1', 'llama-2', 'llama-3', 'llama-4']).length).toBe(3);
    expect(
      nearMisses(
        'qwen',
        models.map((m) => m.id),
      ),
    ).toEqual([]);
  });
});

describe('ModelService and ChatCompletionService', () => {
  const service = new ModelService(catalog);
  const completions = (defaultModel?: string, modelField: 'upstream_id' | 'name' = 'upstream_id') =>
    new ChatCompletionService({ models: service, defaultModel, modelField });

  it('resolves by name first, then by upstream id; never falls back silently', () => {
    expect(service.resolve('mistral-large').id).toBe('mistral-large');
    expect(service.resolve('up-llama').id).toBe('llama-3-70b');
    expect(() => service.resolve('mistral-31-24')).toThrow(expect.objectContaining({ status: 404 }));
    try {
      service.resolve('mistral-31-24');
    } catch (error) {
      expect(
        (error as { toJSON(): { error: { suggestions: string[] } } }).toJSON().error.suggestions,
      ).toContain('mistral-31-24b');
    }
  });

  it('uses DEFAULT_MODEL only when the model is missing, else 400; refuses embedding models', () => {
    expect(completions('llama-3-8b').resolveModel(undefined).id).toBe('llama-3-8b');
    expect(completions('llama-3-8b').resolveModel('mistral-large').id).toBe('mistral-large');
    expect(() => completions().resolveModel(undefined)).toThrow(
      expect.objectContaining({ status: 400, param: 'model' }),
    );
    expect(() => completions('gone').resolveModel(null)).toThrow(expect.objectContaining({ status: 503 }));
    expect(() => completions().resolveModel('embed')).toThrow(
      expect.objectContaining({ status: 400, code: 'model_not_supported' }),
    );
  });

  it('sends the upstream id or the name as model, keeping every other field', () => {
    const m = service.resolve('mistral-large');
    expect(completions().upstreamBody({ model: 'mistral-large', temperature: 1, messages: [] }, m)).toEqual({
      model: 'up-large',
      temperature: 1,
      messages: [],
    });
    expect(completions(undefined, 'name').upstreamBody({ model: 'up-large' }, m)).toEqual({
      model: 'mistral-large',
    });
  });

  it('answers 503 while no catalog is loaded', () => {
    expect(() => new ModelService(staticCatalog(undefined)).list()).toThrow(
      expect.objectContaining({ status: 503 }),
    );
  });
});

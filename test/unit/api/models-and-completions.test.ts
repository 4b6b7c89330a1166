import { buildArtifact, type ArtifactModel } from '../../../core/artifact/schema';
import { createSnapshot, staticCatalog } from '../../../app/catalog/catalog';
import { ChatCompletionService } from '../../../app/api/chat-completions/chat-completion-service';
import { ModelService } from '../../../app/api/models/model-service';
import { checkModelType } from '../../../app/api/routing/model-types';
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
  const completions = (defaultModel?: string) => new ChatCompletionService({ models: service, defaultModel });

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

  it('uses DEFAULT_MODEL only when the model is missing, else 400', () => {
    expect(completions('llama-3-8b').resolveModel(undefined).id).toBe('llama-3-8b');
    expect(completions('llama-3-8b').resolveModel('mistral-large').id).toBe('mistral-large');
    expect(() => completions().resolveModel(undefined)).toThrow(
      expect.objectContaining({ status: 400, param: 'model' }),
    );
    expect(() => completions('gone').resolveModel(null)).toThrow(expect.objectContaining({ status: 503 }));
  });

  it('chat needs an LLM model and embeddings an EMBEDDING one; UNKNOWN where settings.unknownModels says', () => {
    const embed = service.resolve('embed');
    const llm = service.resolve('mistral-large');
    const unknown = { ...llm, id: 'mystery', type: 'UNKNOWN' as const };
    expect(() => checkModelType(llm, 'chat', 'both')).not.toThrow();
    expect(() => checkModelType(embed, 'embeddings', 'none')).not.toThrow();
    expect(() => checkModelType(embed, 'chat', 'both')).toThrow(
      expect.objectContaining({
        status: 400,
        code: 'model_not_supported',
        param: 'model',
        message: expect.stringContaining('is an EMBEDDING model; chat completions need an LLM model'),
      }),
    );
    expect(() => checkModelType(llm, 'embeddings', 'both')).toThrow(
      expect.objectContaining({
        status: 400,
        message: expect.stringContaining('is an LLM model; embeddings need'),
      }),
    );
    expect(() => checkModelType(unknown, 'chat', 'both')).not.toThrow();
    expect(() => checkModelType(unknown, 'embeddings', 'chat')).toThrow(
      expect.objectContaining({ status: 400, message: expect.stringContaining('has the type UNKNOWN') }),
    );
    expect(() => checkModelType(unknown, 'embeddings', 'embeddings')).not.toThrow();
    expect(() => checkModelType(unknown, 'chat', 'none')).toThrow(expect.objectContaining({ status: 400 }));
  });

  it('answers 503 while no catalog is loaded', () => {
    expect(() => new ModelService(staticCatalog(undefined)).list()).toThrow(
      expect.objectContaining({ status: 503 }),
    );
  });
});

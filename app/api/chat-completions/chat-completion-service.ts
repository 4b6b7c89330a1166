import type { ArtifactModel } from '../../../core/artifact/schema';
import { BadRequestError, ServiceUnavailableError } from '../../http/errors';
import type { ModelService } from '../models/model-service';

export interface ChatCompletionServiceOptions {
  models: ModelService;
  defaultModel: string | undefined;
  /** Which model field goes upstream as `model`. */
  modelField: 'upstream_id' | 'name';
}

/** The rules of a chat completion before anything is forwarded: which model, and what the upstream is told. */
export class ChatCompletionService {
  constructor(private readonly options: ChatCompletionServiceOptions) {}

  /** Exact name, then upstream id; missing -> DEFAULT_MODEL or 400; unknown -> 404 with suggestions. */
  resolveModel(requested: string | undefined | null): ArtifactModel {
    const { models, defaultModel } = this.options;
    let model: ArtifactModel;
    if (requested === undefined || requested === null || requested === '') {
      if (defaultModel === undefined) {
        throw new BadRequestError('You must provide a model parameter (GET /v1/models lists them).', {
          code: 'missing_model',
          param: 'model',
        });
      }
      const fallback = models.find(defaultModel);
      if (!fallback) {
        throw new ServiceUnavailableError(
          `The configured DEFAULT_MODEL ${JSON.stringify(defaultModel)} is not in the model catalog; name a model explicitly.`,
          { code: 'default_model_unavailable' },
        );
      }
      model = fallback;
    } else {
      model = models.resolve(requested);
    }
    if (model.type === 'EMBEDDING') {
      throw new BadRequestError(
        `The model ${JSON.stringify(model.id)} is an embedding model and cannot serve chat completions.`,
        { code: 'model_not_supported', param: 'model' },
      );
    }
    return model;
  }

  /** The body sent upstream: the client's, with `model` replaced by the upstream's name for it. */
  upstreamBody(body: Record<string, unknown>, model: ArtifactModel): Record<string, unknown> {
    const name = this.options.modelField === 'name' ? model.id : model.upstreamId;
    return { ...body, model: name };
  }
}

import type { ArtifactModel } from '../../../core/artifact/schema';
import { BadRequestError, ServiceUnavailableError } from '../../http/errors';
import type { ModelService } from '../models/model-service';

export interface ChatCompletionServiceOptions {
  models: ModelService;
  defaultModel: string | undefined;
}

/** Which model a chat completion is for; where it goes is the routing's business. */
export class ChatCompletionService {
  constructor(private readonly options: ChatCompletionServiceOptions) {}

  /** Exact name, then upstream id; missing -> DEFAULT_MODEL or 400; unknown -> 404 with suggestions. */
  resolveModel(requested: string | undefined | null): ArtifactModel {
    const { models, defaultModel } = this.options;
    if (requested !== undefined && requested !== null && requested !== '') return models.resolve(requested);
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
    return fallback;
  }
}

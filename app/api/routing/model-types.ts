import type { ArtifactModel, ModelType } from '../../../core/artifact/schema';
import { BadRequestError } from '../../http/errors';
import type { UnknownModelUse } from './routing-file';
import type { Endpoint } from './upstream';

const NEEDS: Record<Endpoint, { type: ModelType; what: string }> = {
  chat: { type: 'LLM', what: 'chat completions' },
  embeddings: { type: 'EMBEDDING', what: 'embeddings' },
};

/**
 * Chat completions need an LLM model and embeddings an EMBEDDING one; UNKNOWN models are accepted where the
 * routing file's `settings.unknownModels` says. A mismatch is the client's error and is never forwarded.
 */
export function checkModelType(
  model: ArtifactModel,
  endpoint: Endpoint,
  unknownModels: UnknownModelUse,
): void {
  const need = NEEDS[endpoint];
  if (model.type === need.type) return;
  if (model.type === 'UNKNOWN') {
    if (unknownModels === 'both' || unknownModels === endpoint) return;
    throw new BadRequestError(
      `The model ${JSON.stringify(model.id)} has the type UNKNOWN, which this gateway does not accept for ${need.what}; use a model of type ${need.type} (GET /v1/models shows each model's type).`,
      { code: 'model_not_supported', param: 'model' },
    );
  }
  throw new BadRequestError(
    `The model ${JSON.stringify(model.id)} is an ${model.type} model; ${need.what} need an ${need.type} model (GET /v1/models shows each model's type).`,
    { code: 'model_not_supported', param: 'model' },
  );
}

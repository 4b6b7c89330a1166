import { Router, type RequestHandler } from 'express';
import type { ArtifactModel } from '../../../core/artifact/schema';
import type { ModelService } from './model-service';

export function modelJson(model: ArtifactModel) {
  return {
    id: model.id,
    object: 'model' as const,
    created: model.createdAt,
    owned_by: model.owner ?? 'modelgate',
    upstream_id: model.upstreamId,
    tags: model.tags,
    type: model.type,
  };
}

/** GET /models and GET /models/{id}; ids may contain slashes (encoded or not), spaces and colons. */
export function modelRoutes(models: ModelService, auth: RequestHandler): Router {
  const router = Router();

  router.get('/models', auth, (_req, res) => {
    res.json({ object: 'list', data: models.list().map(modelJson) });
  });

  router.get('/models/*id', auth, (req, res) => {
    const segments = (req.params as { id: string[] }).id;
    res.json(modelJson(models.resolve(segments.join('/'), null)));
  });

  return router;
}

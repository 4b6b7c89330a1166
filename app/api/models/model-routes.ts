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

  // The list changes only when the catalog is swapped: serialise it once per snapshot.
  const listBodies = new WeakMap<object, Buffer>();
  router.get('/models', auth, (_req, res) => {
    const snapshot = models.snapshot();
    let body = listBodies.get(snapshot);
    if (body === undefined) {
      body = Buffer.from(JSON.stringify({ object: 'list', data: snapshot.artifact.models.map(modelJson) }));
      listBodies.set(snapshot, body);
    }
    res.type('application/json').send(body);
  });

  router.get('/models/*id', auth, (req, res) => {
    const segments = (req.params as { id: string[] }).id;
    res.json(modelJson(models.resolve(segments.join('/'), null)));
  });

  return router;
}

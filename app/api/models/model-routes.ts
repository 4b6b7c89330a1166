import { Router, type RequestHandler } from 'express';
import * as z from 'zod';
import { modelTypes, type ArtifactModel } from '../../../core/artifact/schema';
import { lazily, mount, operation } from '../operations';
import type { ModelService } from './model-service';

/** What the model routes answer; the presenters below are typed by them. */
export const modelSchemas = lazily(() => {
  const model = z.strictObject({
    id: z.string(),
    object: z.literal('model'),
    created: z.int(),
    owned_by: z.string(),
    upstream_id: z.string(),
    tags: z.array(z.string()),
    type: z.enum(modelTypes),
  });
  return { model, modelList: z.strictObject({ object: z.literal('list'), data: z.array(model) }) };
});
type ModelSchemas = ReturnType<typeof modelSchemas>;
export type ModelJson = z.output<ModelSchemas['model']>;
export type ModelListJson = z.output<ModelSchemas['modelList']>;

export function modelJson(model: ArtifactModel): ModelJson {
  return {
    id: model.id,
    object: 'model',
    created: model.createdAt,
    owned_by: model.owner ?? 'modelgate',
    upstream_id: model.upstreamId,
    tags: model.tags,
    type: model.type,
  };
}

export const modelOperations = {
  listModels: operation({
    operationId: 'listModels',
    method: 'get',
    path: '/models',
    summary: 'Models of the loaded catalog.',
    security: 'apiKey',
    responses: { 200: { description: 'Models.', schema: () => modelSchemas().modelList } },
    errors: [401, 503],
  }),
  getModel: operation({
    operationId: 'getModel',
    method: 'get',
    path: '/models/*id',
    summary: 'One model by name (URL-encoded; may contain spaces, slashes, colons) or upstream id.',
    security: 'apiKey',
    params: z.strictObject({ id: z.string().meta({ description: 'Model name or upstream id.' }) }),
    responses: { 200: { description: 'The model.', schema: () => modelSchemas().model } },
    errors: [401, 404, 503],
  }),
};

/** GET /models and GET /models/{id}; ids may contain slashes (encoded or not), spaces and colons. */
export function modelRoutes(models: ModelService, auth: RequestHandler): Router {
  const router = Router();

  // The list changes only when the catalog is swapped: serialise it once per snapshot.
  const listBodies = new WeakMap<object, Buffer>();
  mount(router, modelOperations.listModels, [auth], (_input, _req, res) => {
    const snapshot = models.snapshot();
    let body = listBodies.get(snapshot);
    if (body === undefined) {
      const list: ModelListJson = { object: 'list', data: snapshot.artifact.models.map(modelJson) };
      body = Buffer.from(JSON.stringify(list));
      listBodies.set(snapshot, body);
    }
    res.type('application/json').send(body);
  });

  mount(router, modelOperations.getModel, [auth], ({ params }, _req, res) => {
    res.json(modelJson(models.resolve(params.id, null)));
  });

  return router;
}

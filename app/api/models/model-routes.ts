import type { RequestHandler, Response, Router } from 'express';
import * as z from 'zod';
import { modelTypes, type ArtifactModel } from '../../../core/artifact/schema';
import { lazily, mount, operation } from '../operations';
import { ModelNotAllowedError } from '../limits/limit-errors';
import type { ModelService } from './model-service';

/** Which models the caller's key may use (its policy's allowed models); undefined: every model. */
export type ModelAccess = (res: Response) => Promise<((model: string) => boolean) | undefined>;

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
    summary: 'Models of the loaded catalog the key may use (its allowed models).',
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
    errors: [401, 403, 404, 503],
    errorNotes: { 403: "model_not_allowed: the model is outside the key's allowed models." },
  }),
};

/**
 * GET /models and GET /models/{id}; ids may contain slashes (encoded or not), spaces and colons. A key limited to
 * some models lists only those and gets 403 model_not_allowed for the others.
 */
export function modelRoutes(
  router: Router,
  models: ModelService,
  auth: RequestHandler,
  access: ModelAccess,
): void {
  // The list changes only when the catalog is swapped: serialise it once per snapshot.
  const listBodies = new WeakMap<object, Buffer>();
  mount(router, modelOperations.listModels, [auth], async (_input, _req, res) => {
    const allows = await access(res);
    const snapshot = models.snapshot();
    if (allows) {
      const list: ModelListJson = {
        object: 'list',
        data: snapshot.artifact.models.filter((m) => allows(m.id)).map(modelJson),
      };
      res.json(list);
      return;
    }
    let body = listBodies.get(snapshot);
    if (body === undefined) {
      const list: ModelListJson = { object: 'list', data: snapshot.artifact.models.map(modelJson) };
      body = Buffer.from(JSON.stringify(list));
      listBodies.set(snapshot, body);
    }
    res.type('application/json').send(body);
  });

  mount(router, modelOperations.getModel, [auth], async ({ params }, _req, res) => {
    const model = models.resolve(params.id, null);
    const allows = await access(res);
    if (allows && !allows(model.id)) throw new ModelNotAllowedError(model.id);
    res.json(modelJson(model));
  });
}

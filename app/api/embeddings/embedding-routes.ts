import type { RequestHandler, Router } from 'express';
import * as z from 'zod';
import type { ModelService } from '../models/model-service';
import { lazily, mount, operation } from '../operations';
import { principal } from '../principal';
import {
  ROUTED_ERRORS,
  routedErrorHeaders,
  routedErrorNotes,
  routedHeaders,
} from '../routing/routed-operation';
import type { RoutingService } from '../routing/routing-service';

/** What the gateway needs to route; the rest (encoding_format, dimensions, user...) is the upstream's to judge. */
export const embeddingBody = z.looseObject({
  model: z
    .string()
    .min(1, { message: 'must name a model (GET /v1/models lists them)' })
    .max(512)
    .meta({ description: 'A model of type EMBEDDING (name or upstream id).' }),
  input: z
    .union(
      [
        z.string(),
        z.array(z.string()).min(1),
        z.array(z.number().int()).min(1),
        z.array(z.array(z.number().int()).min(1)).min(1),
      ],
      { message: 'must be a string, or a non-empty array of strings, of tokens or of token arrays' },
    )
    .meta({
      description:
        'A string, or a non-empty array of strings, of tokens (integers) or of token arrays, as OpenAI takes it.',
    }),
});

export const embeddingListSchema = lazily(() =>
  z.looseObject({}).meta({ description: "The upstream's embeddings list, with `model` as asked for." }),
);

export const embeddingOperations = {
  createEmbedding: operation({
    operationId: 'createEmbedding',
    method: 'post',
    path: '/embeddings',
    summary: 'Routed like chat completions, to models of type EMBEDDING.',
    security: 'apiKey',
    body: { schema: embeddingBody, required: true },
    responses: {
      200: {
        description: "The upstream's answer with `model` set to the name asked for.",
        schema: embeddingListSchema,
        headers: routedHeaders,
      },
    },
    errors: ROUTED_ERRORS,
    errorHeaders: routedErrorHeaders,
    errorNotes: routedErrorNotes('an EMBEDDING'),
  }),
};

/** POST /embeddings, routed like chat completions to models of type EMBEDDING. */
export function embeddingRoutes(
  router: Router,
  models: ModelService,
  routing: RoutingService,
  auth: RequestHandler,
): void {
  const configured: RequestHandler = (_req, _res, next) => {
    routing.ensureConfigured();
    next();
  };

  mount(router, embeddingOperations.createEmbedding, [auth, configured], async ({ body }, req, res) => {
    const model = models.resolve(body.model);
    routing.checkType(model, 'embeddings');
    await routing.forward(
      { caller: principal(res), endpoint: 'embeddings', model, body, stream: false, requestId: req.id },
      res,
    );
  });
}

import type { RequestHandler, Router } from 'express';
import * as z from 'zod';
import { lazily, mount, operation } from '../operations';
import { principal } from '../principal';
import {
  ROUTED_ERRORS,
  routedErrorHeaders,
  routedErrorNotes,
  routedHeaders,
} from '../routing/routed-operation';
import type { RoutingService } from '../routing/routing-service';
import type { ChatCompletionService } from './chat-completion-service';

/** Only what the gateway needs is checked; everything else is the upstream's to judge and passes through. */
export const chatCompletionBody = z.looseObject({
  model: z
    .string()
    .max(512)
    .nullable()
    .optional()
    .meta({ description: 'Model name or upstream id, of type LLM; DEFAULT_MODEL when omitted.' }),
  messages: z
    .array(z.looseObject({ role: z.string().min(1).max(64) }))
    .min(1, { message: 'must contain at least one message' }),
  stream: z.boolean().nullable().optional(),
});

export const chatCompletionSchema = lazily(() =>
  z
    .looseObject({})
    .meta({ description: "The upstream's chat.completion object, with `model` as asked for." }),
);

export const chatCompletionOperations = {
  createChatCompletion: operation({
    operationId: 'createChatCompletion',
    method: 'post',
    path: '/chat/completions',
    summary:
      'Routed to the upstreams of the routing file (or UPSTREAM_URL) with failover before the first byte; `stream: true` answers with server-sent events. The answer names the model as asked; X-Modelgate-Upstream and X-Modelgate-Upstream-Model say who served it under which name.',
    security: 'apiKey',
    body: { schema: chatCompletionBody, required: true },
    responses: {
      200: {
        description:
          'The upstream\'s answer with `model` set to the name asked for; a stream the upstream breaks off ends with an error event (`data: {"error":{...}}`).',
        schema: chatCompletionSchema,
        eventStream: true,
        headers: routedHeaders,
      },
    },
    errors: ROUTED_ERRORS,
    errorHeaders: routedErrorHeaders,
    errorNotes: routedErrorNotes('an LLM'),
  }),
};

/** POST /chat/completions */
export function chatCompletionRoutes(
  router: Router,
  service: ChatCompletionService,
  routing: RoutingService,
  auth: RequestHandler,
): void {
  const configured: RequestHandler = (_req, _res, next) => {
    routing.ensureConfigured();
    next();
  };

  mount(
    router,
    chatCompletionOperations.createChatCompletion,
    [auth, configured],
    async ({ body }, req, res) => {
      const model = service.resolveModel(body.model);
      routing.checkType(model, 'chat');
      await routing.forward(
        {
          caller: principal(res),
          endpoint: 'chat',
          model,
          body,
          stream: body.stream === true,
          requestId: req.id,
        },
        res,
      );
    },
  );
}

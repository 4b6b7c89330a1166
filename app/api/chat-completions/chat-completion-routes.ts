import { Router, type RequestHandler } from 'express';
import * as z from 'zod';
import { lazily, mount, operation } from '../operations';
import type { ChatCompletionService } from './chat-completion-service';
import type { UpstreamProxy } from './upstream-proxy';

/** Only what the gateway needs is checked; everything else is the upstream's to judge and passes through. */
export const chatCompletionBody = z.looseObject({
  model: z
    .string()
    .max(512)
    .nullable()
    .optional()
    .meta({ description: 'Model name or upstream id; DEFAULT_MODEL when omitted.' }),
  messages: z
    .array(z.looseObject({ role: z.string().min(1).max(64) }))
    .min(1, { message: 'must contain at least one message' }),
  stream: z.boolean().nullable().optional(),
});

export const chatCompletionSchema = lazily(() =>
  z.looseObject({}).meta({ description: "The upstream's chat.completion object, unchanged." }),
);

export const chatCompletionOperations = {
  createChatCompletion: operation({
    operationId: 'createChatCompletion',
    method: 'post',
    path: '/chat/completions',
    summary: 'Forwarded to UPSTREAM_URL/v1/chat/completions; `stream: true` answers with server-sent events.',
    security: 'apiKey',
    body: { schema: chatCompletionBody, required: true },
    responses: {
      200: {
        description: 'The upstream answer, passed through.',
        schema: chatCompletionSchema,
        eventStream: true,
      },
    },
    errors: [401, 404, 429, 502, 503, 504],
    errorNotes: {
      429: 'Rate limited by the upstream.',
      502: 'Upstream unreachable or failed.',
      503: 'No upstream configured, the catalog is not loaded, or the key cannot be checked while the database is unreachable (`database_unavailable`, with Retry-After).',
      504: 'Upstream did not answer within UPSTREAM_TIMEOUT.',
    },
  }),
};

/** POST /chat/completions */
export function chatCompletionRoutes(
  service: ChatCompletionService,
  upstream: UpstreamProxy,
  auth: RequestHandler,
): Router {
  const router = Router();
  const configured: RequestHandler = (_req, _res, next) => {
    upstream.ensureConfigured();
    next();
  };

  mount(
    router,
    chatCompletionOperations.createChatCompletion,
    [auth, configured],
    async ({ body }, req, res) => {
      const model = service.resolveModel(body.model);
      await upstream.forward({
        body: service.upstreamBody(body, model),
        stream: body.stream === true,
        requestId: req.id,
        res,
      });
    },
  );

  return router;
}

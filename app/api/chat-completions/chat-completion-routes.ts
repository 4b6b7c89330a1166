import { Router, type RequestHandler } from 'express';
import * as z from 'zod';
import type { Admission } from '../limits/admission';
import { lazily, mount, operation } from '../operations';
import { principal } from '../principal';
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
    errors: [401, 403, 404, 429, 502, 503, 504],
    errorNotes: {
      403: "model_not_allowed: the model is outside the key's allowed models.",
      429: "The key's requests or tokens per minute (rate_limit_exceeded) or monthly token budget (insufficient_quota), with Retry-After; or rate limited by the upstream.",
      502: 'Upstream unreachable or failed.',
      503: "No upstream configured, the catalog is not loaded, or the key's limits could not be checked (LIMITS_ON_STORE_ERROR=closed).",
      504: 'Upstream did not answer within UPSTREAM_TIMEOUT.',
    },
  }),
};

/** POST /chat/completions */
export function chatCompletionRoutes(
  service: ChatCompletionService,
  upstream: UpstreamProxy,
  auth: RequestHandler,
  admit: Admission,
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
      await admit({ caller: principal(res), endpoint: 'chat', model, body, requestId: req.id }, res);
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

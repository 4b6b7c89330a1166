import { Router, type RequestHandler } from 'express';
import * as z from 'zod';
import { parseInput } from '../validation';
import type { ChatCompletionService } from './chat-completion-service';
import type { UpstreamProxy } from './upstream-proxy';
import { requestIdOf } from '../request-id';

const message = z.looseObject({
  role: z.string().min(1).max(64),
});

/** Only what the gateway needs is checked; everything else is the upstream's to judge and passes through. */
const chatCompletionBody = z.looseObject({
  model: z.string().max(512).nullable().optional(),
  messages: z.array(message).min(1, { message: 'must contain at least one message' }),
  stream: z.boolean().nullable().optional(),
});

/** POST /chat/completions */
export function chatCompletionRoutes(
  service: ChatCompletionService,
  upstream: UpstreamProxy,
  auth: RequestHandler,
): Router {
  const router = Router();

  router.post('/chat/completions', auth, async (req, res) => {
    upstream.ensureConfigured();
    const body = parseInput(chatCompletionBody, req.body, 'body');
    const model = service.resolveModel(body.model);
    await upstream.forward({
      body: service.upstreamBody(body, model),
      stream: body.stream === true,
      requestId: requestIdOf(req, res),
      res,
    });
  });

  return router;
}

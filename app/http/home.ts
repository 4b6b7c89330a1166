import { Router } from 'express';

/** GET /: what this server is and where its entry points are, for a person or a script finding their way. */
export function homeRouter(options: { version: string; api: boolean }): Router {
  const router = Router();
  const links: Record<string, string> = {
    ...(options.api
      ? {
          docs: '/docs',
          openapi: '/api/v1/openapi.json',
          models: '/v1/models',
          chat_completions: '/v1/chat/completions',
        }
      : {}),
    readiness: '/readyz',
    liveness: '/livez',
    status: '/status',
    metrics: '/metrics',
  };
  const body = Buffer.from(
    JSON.stringify({
      name: 'modelgate',
      version: options.version,
      description: 'OpenAI-compatible model gateway; the API is mounted at /api/v1 and /v1.',
      links,
    }),
  );
  router.get('/', (_req, res) => {
    res.type('application/json').send(body);
  });
  return router;
}

import { Router } from 'express';
import type { RuntimeApi, RuntimeApiDeps } from '../../../app/runtime';

/**
 * A stand-in for app/api in runtime tests: lists the catalog it was given (so a reload is visible), streams SSE
 * for as long as asked, and records start/close.
 */
export function stubApi() {
  const calls: string[] = [];
  const create = (deps: RuntimeApiDeps): RuntimeApi => {
    const router = Router();
    router.get('/models', (_req, res) => {
      const snapshot = deps.catalog.current();
      if (!snapshot) {
        res
          .status(503)
          .json({ error: { message: 'no catalog', type: 'service_unavailable', code: null, param: null } });
        return;
      }
      res.json({
        object: 'list',
        sha256: snapshot.artifact.sha256,
        data: snapshot.artifact.models.map((m) => ({ id: m.id })),
      });
    });
    router.get('/stream', (req, res) => {
      const events = Number(req.query.events ?? 5);
      const everyMs = Number(req.query.every ?? 50);
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      let sent = 0;
      const timer = setInterval(() => {
        if (events >= 0 && sent >= events) {
          clearInterval(timer);
          res.end('data: [DONE]\n\n');
          return;
        }
        sent += 1;
        res.write(`data: {"n":${sent}}\n\n`);
      }, everyMs);
      res.on('close', () => clearInterval(timer));
    });
    router.post('/echo', (req, res) => {
      res.json({ received: req.body });
    });
    return {
      router,
      start: async () => {
        calls.push('start');
      },
      close: async () => {
        calls.push('close');
      },
      describe: () => ({ revocationListener: 'connected' }),
    };
  };
  return { create, calls };
}

import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';

const ACCEPTABLE = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Makes sure the response carries an X-Request-Id: the app runtime normally sets it; mounted alone (tests,
 * benchmarks) the router echoes a sane incoming one or generates one itself.
 */
export function ensureRequestId(): RequestHandler {
  return (req, res, next) => {
    if (!res.getHeader('x-request-id')) {
      const incoming = req.get('x-request-id');
      res.setHeader('X-Request-Id', incoming && ACCEPTABLE.test(incoming) ? incoming : randomUUID());
    }
    next();
  };
}

export function requestIdOf(req: Request, res: Response): string {
  const id = res.getHeader('x-request-id') ?? req.get('x-request-id');
  return typeof id === 'string' ? id : randomUUID();
}

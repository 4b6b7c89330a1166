import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';

const ACCEPTABLE = /^[A-Za-z0-9._:-]{1,128}$/;

declare module 'express-serve-static-core' {
  interface Request {
    /** The X-Request-Id echoed to the client and logged with every line about this request. */
    id: string;
  }
}

/** Echoes a sane incoming X-Request-Id (from a proxy or the client) or generates one. */
export function requestId(generate: () => string = randomUUID): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    req.id = incoming && ACCEPTABLE.test(incoming) ? incoming : generate();
    res.setHeader('X-Request-Id', req.id);
    next();
  };
}

import type { RequestHandler, Response } from 'express';
import type { KeyService, Principal } from './keys/key-service';

/** Middleware that authenticates the API key and leaves the caller in `res.locals.principal`. */
export function requireApiKey(keys: KeyService): RequestHandler {
  return async (req, res, next) => {
    res.locals.principal = await keys.authenticate(req.headers.authorization);
    next();
  };
}

export function principal(res: Response): Principal {
  const value = res.locals.principal as Principal | undefined;
  if (!value) throw new Error('route is missing requireApiKey');
  return value;
}

import type { Express, RequestHandler } from 'express';
import { MethodNotAllowedError } from './errors';

interface Layer {
  route?: { methods: Record<string, boolean | undefined> };
  handle?: { stack?: Layer[] };
  /** What the layer matched (`path`: the part of the path a mounted router takes off), without request state. */
  match(path: string): { path: string } | false;
}

/**
 * The methods the app's routes serve at `path`, read from express' own routing table (so they cannot drift from
 * the routes): GET implies HEAD, as express answers HEAD with the GET route; OPTIONS is answered for every known path.
 */
export function allowedMethods(app: Express, path: string): string[] {
  const found = new Set<string>();
  const walk = (stack: readonly Layer[], below: string) => {
    for (const layer of stack) {
      let matched: { path: string } | false;
      try {
        matched = layer.match(below);
      } catch {
        matched = false; // a malformed %-encoding names no route
      }
      if (!matched) continue;
      if (layer.route) {
        for (const [method, on] of Object.entries(layer.route.methods))
          if (on && method !== '_all') found.add(method.toUpperCase());
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack, below.slice(matched.path.length) || '/');
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, path);
  if (found.size === 0) return [];
  if (found.has('GET')) found.add('HEAD');
  found.add('OPTIONS');
  return [...found].sort();
}

/**
 * Installed first: OPTIONS on a known path answers 204 with `Allow` (no CORS: the API is not meant to be called
 * from other origins' pages); elsewhere it falls through to the 404.
 */
export function answerOptions(app: Express): RequestHandler {
  return (req, res, next) => {
    if (req.method !== 'OPTIONS') return next();
    const allowed = allowedMethods(app, req.path);
    if (allowed.length === 0) return next();
    res.set('Allow', allowed.join(', ')).status(204).end();
  };
}

/** Installed after the routes: a known path asked with a method it does not serve is a 405 with `Allow`. */
export function methodNotAllowed(app: Express): RequestHandler {
  return (req, _res, next) => {
    const allowed = allowedMethods(app, req.path);
    if (allowed.length === 0) return next();
    next(new MethodNotAllowedError(req.method, req.path, allowed));
  };
}

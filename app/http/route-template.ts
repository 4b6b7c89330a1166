import type { RequestHandler } from 'express';

const TEMPLATE = Symbol('routeTemplate');

type WithTemplate = { [TEMPLATE]?: string; _matchedRoute?: unknown };

/**
 * Records the matched route as a template (`/api/v1/models/:id`), never the raw path, for metric labels and logs.
 * Express sets `req.route` when a route matches, while `req.baseUrl` still holds the full mount path; by the time a
 * response finishes after `next(err)`, express has already unwound `baseUrl`. So the template is captured at the
 * moment `req.route` is assigned.
 */
export function captureRouteTemplate(): RequestHandler {
  return (req, _res, next) => {
    const holder = req as unknown as WithTemplate;
    Object.defineProperty(req, 'route', {
      configurable: true,
      enumerable: true,
      get: () => holder._matchedRoute,
      set(route: { path?: unknown } | undefined) {
        holder._matchedRoute = route;
        if (route) holder[TEMPLATE] = `${req.baseUrl}${String(route.path)}`;
      },
    });
    next();
  };
}

/** The route template of a finished request, or `unmatched` (404s, probes of random paths). */
export function routeTemplate(req: object): string {
  return (req as WithTemplate)[TEMPLATE] ?? 'unmatched';
}

import type { Express } from 'express';

const TEMPLATE = Symbol('routeTemplate');

type WithTemplate = { [TEMPLATE]?: string; _matchedRoute?: unknown; baseUrl: string };

/**
 * Records the matched route as a template (`/api/v1/models/:id`), never the raw path, for metric labels and logs.
 * Express sets `req.route` when a route matches, while `req.baseUrl` still holds the full mount path; by the time a
 * response finishes after `next(err)`, express has already unwound `baseUrl`. So the template is captured at the
 * moment `req.route` is assigned, by an accessor on the app's request prototype (defined once, not per request: a
 * property defined on each request object costs every later property access on it).
 */
export function captureRouteTemplate(app: Express): void {
  Object.defineProperty(app.request, 'route', {
    configurable: true,
    enumerable: true,
    get(this: WithTemplate) {
      return this._matchedRoute;
    },
    set(this: WithTemplate, route: { path?: unknown } | undefined) {
      this._matchedRoute = route;
      if (route) this[TEMPLATE] = `${this.baseUrl}${String(route.path)}`;
    },
  });
}

/** The route template of a finished request, or `unmatched` (404s, probes of random paths). */
export function routeTemplate(req: object): string {
  return (req as { [TEMPLATE]?: string })[TEMPLATE] ?? 'unmatched';
}

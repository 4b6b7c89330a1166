import type { Express } from 'express';

const ROUTE = Symbol('matchedRoute');
const TEMPLATE = Symbol('routeTemplate');

type Locals = { [ROUTE]?: unknown; [TEMPLATE]?: string };
type RoutedRequest = { baseUrl: string; res?: { locals?: Locals } };

/**
 * Records the matched route as a template (`/api/v1/models/:id`), never the raw path, for metric labels and logs.
 * Express sets `req.route` when a route matches, while `req.baseUrl` still holds the full mount path; by the time a
 * response finishes after `next(err)`, express has already unwound `baseUrl`. So the template is captured at the
 * moment `req.route` is assigned, by an accessor on the app's request prototype, defined once. Both are kept in
 * `res.locals`: a property added to each request object took V8's slow path on every request.
 */
export function captureRouteTemplate(app: Express): void {
  Object.defineProperty(app.request, 'route', {
    configurable: true,
    enumerable: true,
    get(this: RoutedRequest) {
      return this.res?.locals?.[ROUTE];
    },
    set(this: RoutedRequest, route: { path?: unknown } | undefined) {
      const locals = this.res?.locals;
      if (!locals) return;
      locals[ROUTE] = route;
      if (route) locals[TEMPLATE] = `${this.baseUrl}${String(route.path)}`;
    },
  });
}

/** The route template of a finished request, or `unmatched` (404s, probes of random paths). */
export function routeTemplate(req: object): string {
  return (req as RoutedRequest).res?.locals?.[TEMPLATE] ?? 'unmatched';
}

import type { RequestHandler } from 'express';
import type { Logger } from '../../core/logger';
import type { Metrics } from '../metrics';
import { routeTemplate } from './route-template';

/** Paths scraped or probed every few seconds: measured, but logged only at debug level. */
const QUIET = new Set(['/livez', '/readyz', '/metrics']);

/**
 * One JSON access-log line and one `http_request_duration_seconds` observation per request, when the response is
 * finished or the client went away. Never logs headers, bodies or query strings (they carry keys and content).
 */
export function observeRequests(options: {
  logger: Logger;
  metrics: Pick<Metrics, 'httpRequestDuration'>;
}): RequestHandler {
  const { logger, metrics } = options;
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeTemplate(req);
      const aborted = !res.writableFinished;
      // 499 (client closed request) when the client left before the response was complete.
      const status = aborted ? 499 : res.statusCode;
      metrics.httpRequestDuration.observe(
        { method: req.method, route, status_code: String(status) },
        seconds,
      );
      const url = req.originalUrl;
      const query = url.indexOf('?');
      const line = {
        requestId: req.id,
        method: req.method,
        route,
        path: query === -1 ? url : url.slice(0, query),
        status,
        durationMs: Math.round(seconds * 1000 * 10) / 10,
        bytes: Number(res.getHeader('content-length') ?? 0) || undefined,
      };
      if (QUIET.has(line.path) && status < 500) logger.debug(line, 'request');
      else logger.info(line, 'request');
    };
    res.on('finish', finish);
    res.on('close', finish);
    next();
  };
}

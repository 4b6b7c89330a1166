import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { Router } from 'express';
import { packageRoot } from '../../core/package-root';

/**
 * GET /docs: the API reference, Swagger UI (swagger-ui-dist) rendering /api/v1/openapi.json. Every file comes from
 * this app and the Content-Security-Policy forbids any other origin. The package is never loaded into the process:
 * its two browser files are sent from disk when asked for, from the build output (dist/docs, what the image ships)
 * or, running from a checkout without a build, from node_modules.
 */
export const DOCS_ASSETS = ['swagger-ui.css', 'swagger-ui-bundle.js'] as const;

export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  // Swagger UI's stylesheet draws its icons as data: images.
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>modelgate API reference</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="/docs/swagger-ui.css">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
`;

// No validator badge (it would ask validator.swagger.io); "Try it out" sends requests to the servers of the
// document, which are this origin's /api/v1 and /v1.
const INIT = `window.ui = SwaggerUIBundle({
  url: '/api/v1/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;

/**
 * Where the browser files are: the build's copy (gzipped, as the image ships them), else the installed package.
 * Undefined when neither is there.
 */
export function docsAssetDir(root = packageRoot()): string | undefined {
  return [path.join(root, 'dist', 'docs'), path.join(root, 'node_modules', 'swagger-ui-dist')].find((dir) =>
    DOCS_ASSETS.every((file) => [file, `${file}.gz`].some((name) => fs.existsSync(path.join(dir, name)))),
  );
}

export function docsRouter(options: { assetDir?: () => string | undefined } = {}): Router {
  const router = Router();
  const locate = options.assetDir ?? docsAssetDir;
  let dir: string | undefined;
  const security = { 'Content-Security-Policy': DOCS_CSP, 'X-Content-Type-Options': 'nosniff' };

  router.get('/docs', (_req, res) => {
    res.set(security).type('html').send(PAGE);
  });
  router.get('/docs/init.js', (_req, res) => {
    res.set(security).type('js').send(INIT);
  });
  for (const file of DOCS_ASSETS) {
    router.get(`/docs/${file}`, (req, res, next) => {
      dir ??= locate();
      if (dir === undefined) {
        next(
          new Error(
            `the API reference's ${file} is missing: neither dist/docs nor node_modules/swagger-ui-dist`,
          ),
        );
        return;
      }
      res.set(security).type(path.extname(file));
      const gzipped = path.join(dir, `${file}.gz`);
      if (!fs.existsSync(gzipped)) {
        res.sendFile(path.join(dir, file), { maxAge: '1h' }, (error) => error && next(error));
        return;
      }
      // The build keeps only the gzipped copy (a fourth of the size in the image); every browser takes it as is.
      res.vary('Accept-Encoding');
      if (req.acceptsEncodings('gzip')) {
        res.set('Content-Encoding', 'gzip');
        res.sendFile(gzipped, { maxAge: '1h' }, (error) => error && next(error));
        return;
      }
      res.set('Cache-Control', 'public, max-age=3600');
      pipeline(fs.createReadStream(gzipped), zlib.createGunzip(), res).catch((error: unknown) => {
        if (!res.headersSent) next(error);
      });
    });
  }
  return router;
}

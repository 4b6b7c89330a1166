import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Router } from 'express';
import { Registry } from 'prom-client';
import { createApp } from '../../../app/app';
import { DOCS_ASSETS } from '../../../app/docs/docs-routes';
import { silentLogger } from '../../../core/logger';
import { stubProbes } from '../../support/api/stub-probes';
import { appConfig } from '../../support/app/config';
import { nodeRequest } from '../../support/http';
import { tempDir } from '../../support/temp.mjs';

const installed = path.resolve(__dirname, '..', '..', '..', 'node_modules', 'swagger-ui-dist');

const get = (url: string, encoding: string) =>
  nodeRequest(url, { headers: { 'accept-encoding': encoding } }).then((res) => ({ ...res, body: res.bytes }));

/** An app whose /docs reads its files from `dir`, as production reads dist/docs or node_modules. */
async function serve(dir: string) {
  const app = createApp({
    config: appConfig({ DATABASE_URL: 'postgres://u:p@127.0.0.1:1/x' }),
    logger: silentLogger(),
    registry: new Registry(),
    probes: stubProbes(),
    api: { router: Router() },
    docsAssetDir: () => dir,
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('/docs files: gzipped as the build ships them, or plain from the installed package', () => {
  const built = tempDir('docs-assets');
  for (const file of DOCS_ASSETS)
    fs.writeFileSync(path.join(built, `${file}.gz`), gzipSync(fs.readFileSync(path.join(installed, file))));
  afterAll(() => fs.rmSync(built, { recursive: true, force: true }));

  it.each([
    ['the build output (gzipped)', built],
    ['node_modules/swagger-ui-dist', installed],
  ])(
    'from %s: the same bytes, compressed for a client that takes gzip and plain for one that does not',
    async (_what, dir) => {
      const { server, base } = await serve(dir);
      try {
        for (const file of DOCS_ASSETS) {
          const original = fs.readFileSync(path.join(installed, file));
          const plain = await get(`${base}/docs/${file}`, 'identity');
          expect({ file, status: plain.status, encoding: plain.headers['content-encoding'] }).toEqual({
            file,
            status: 200,
            encoding: undefined,
          });
          expect(plain.body.equals(original)).toBe(true);
          expect(plain.headers['content-security-policy']).toContain("default-src 'none'");
          const zipped = await get(`${base}/docs/${file}`, 'gzip, deflate');
          const body = zipped.headers['content-encoding'] === 'gzip' ? gunzipSync(zipped.body) : zipped.body;
          expect(body.equals(original)).toBe(true);
          if (dir === built) expect(zipped.headers['content-encoding']).toBe('gzip');
          expect(zipped.headers['content-type']).toMatch(file.endsWith('.css') ? /text\/css/ : /javascript/);
        }
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    },
  );
});

import { modelsFile, startAppBinary, type AppProcess } from '../../support/app/app-binary';

jest.setTimeout(60_000);

// The bundle fills mime-types' extension and type maps on their first read, not at load (scripts/build/bundle.mjs):
// res.type('html' | 'js' | '.css') reads them, so /docs is where a broken patch would show.
describe('/docs from the built modelgate-app: each file with its content type', () => {
  let app: AppProcess;
  beforeAll(async () => {
    // No database is needed to serve the API reference.
    app = await startAppBinary({
      DATABASE_URL: 'postgres://u:p@127.0.0.1:1/none',
      MODELS_FILE: modelsFile(),
    });
  });
  afterAll(() => app.stop());

  it.each([
    ['/docs', 'text/html; charset=utf-8'],
    ['/docs/init.js', 'text/javascript; charset=utf-8'],
    ['/docs/swagger-ui-bundle.js', 'text/javascript; charset=utf-8'],
    ['/docs/swagger-ui.css', 'text/css; charset=utf-8'],
  ])('%s is %s', async (route, type) => {
    const answer = await fetch(`${app.url}${route}`);
    expect({ route, status: answer.status, type: answer.headers.get('content-type') }).toEqual({
      route,
      status: 200,
      type,
    });
    expect((await answer.arrayBuffer()).byteLength).toBeGreaterThan(100);
  });
});

import fs from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';
import { startApi, type ApiHarness } from '../../support/api/api-harness';
import { tempDir } from '../../support/temp.mjs';
import { describeWithTools } from '../../support/tools';

jest.setTimeout(120_000);

/** The flags of a headless Chromium that asks nothing of the network by itself (no updates, sync or QUIC). */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describeWithTools('GET /docs in a real browser (Debian chromium)', ['chromium'], (tools) => {
  let h: ApiHarness;
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    h = await startApi();
    profile = tempDir('chromium');
    context = await chromium.launchPersistentContext(profile, {
      executablePath: tools.chromium,
      headless: true,
      args: FLAGS,
    });
  });
  afterAll(async () => {
    await context?.close();
    await h?.close();
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
  });

  it('renders the route list of the OpenAPI document with every request to the app itself', async () => {
    const origin = new URL(h.url).origin;
    const requested: string[] = [];
    const refused: string[] = [];
    context.on('request', (request) => requested.push(request.url()));
    const page = await context.newPage();
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) refused.push(message.text());
    });

    const response = await page.goto(`${h.url}/docs`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");
    await page.waitForSelector('.opblock-summary-path', { timeout: 60_000 });
    const paths = await page.$$eval('.opblock-summary-path', (nodes) =>
      nodes.map((node) => node.textContent?.replace(/\u200b/g, '').trim()),
    );
    expect(paths).toEqual(
      expect.arrayContaining(['/chat/completions', '/models', '/models/{id}', '/auth/keys']),
    );
    expect(await page.title()).toBe('modelgate API reference');

    const elsewhere = requested.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith('data:'));
    expect(elsewhere).toEqual([]);
    expect(requested).toEqual(
      expect.arrayContaining([
        `${origin}/docs`,
        `${origin}/docs/swagger-ui-bundle.js`,
        `${origin}/docs/swagger-ui.css`,
        `${origin}/api/v1/openapi.json`,
      ]),
    );
    expect(refused).toEqual([]);
  });
});

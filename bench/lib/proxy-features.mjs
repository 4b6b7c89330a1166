// @ts-check
// Which of modelgate's features the proxy benchmark runs with. The goal (issue 18) is measured with every feature
// on: authentication, validation, request logging and metrics are always on in modelgate-app; routing, per-key
// limits and the usage ledger are switched on here once they exist, so the final run needs no other change:
//  - `env`: variables added to modelgate-app's environment (a routing file, the limiter's store, the ledger);
//  - `configure`: admin API calls after the benchmark's key exists (its policy: limits far above what the run sends,
//    so they are checked and counted on every request but never refuse one);
//  - BENCH_PROXY_APP_ENV: a JSON object of extra variables for a one-off run, `{upstream}` and `{dir}` in its values
//    replaced by the upstream's URL and the pod's directory (where a routing file can be written).
import fs from 'node:fs';
import path from 'node:path';

/**
 * @typedef {{ upstreamUrl: string, dir: string }} FeatureContext
 * @typedef {{ base: string, adminToken: string, key: string }} KeyContext
 * @typedef {{ name: string, on: boolean, how: string }} FeatureState
 */

/** Always on in modelgate-app: nothing turns them off. */
const BUILT_IN = [
  {
    name: 'authentication',
    on: true,
    how: 'an API key created through the admin API, checked on every request',
  },
  { name: 'validation', on: true, how: 'the chat completion body schema' },
  { name: 'request logging', on: true, how: 'LOG_LEVEL=info: one JSON line per request (to a file)' },
  { name: 'metrics', on: true, how: 'prom-client histograms per request and per upstream call' },
];

/**
 * Features that arrive with issues 16 and 17. Each one's `env` and `configure` switch it on; `on` says whether this
 * build has it. Until then they are reported as off.
 * @type {{ name: string, on: boolean, how: string, env: (c: FeatureContext) => Record<string, string>,
 *   configure: (c: KeyContext) => Promise<void> }[]}
 */
const UPCOMING = [
  {
    name: 'routing',
    on: false,
    how: 'not in this build yet (issue 16): UPSTREAM_URL, one upstream',
    env: () => ({}),
    configure: async () => {},
  },
  {
    name: 'limits',
    on: false,
    how: 'not in this build yet (issue 17)',
    env: () => ({}),
    configure: async () => {},
  },
  {
    name: 'usage ledger',
    on: false,
    how: 'not in this build yet (issue 17)',
    env: () => ({}),
    configure: async () => {},
  },
];

/** @param {FeatureContext} context @returns {Record<string, string>} */
function extraEnv(context) {
  const text = process.env.BENCH_PROXY_APP_ENV;
  if (!text) return {};
  /** @type {Record<string, unknown>} */
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`BENCH_PROXY_APP_ENV is not a JSON object: ${/** @type {Error} */ (error).message}`, {
      cause: error,
    });
  }
  return Object.fromEntries(
    Object.entries(parsed).map(([name, value]) => [
      name,
      String(value).replaceAll('{upstream}', context.upstreamUrl).replaceAll('{dir}', context.dir),
    ]),
  );
}

/** @param {FeatureContext} context @returns {Record<string, string>} modelgate-app's extra environment */
export function featureEnv(context) {
  fs.mkdirSync(path.resolve(context.dir), { recursive: true });
  return {
    ...Object.assign({}, ...UPCOMING.filter((f) => f.on).map((f) => f.env(context))),
    ...extraEnv(context),
  };
}

/** @param {KeyContext} context */
export async function configureFeatures(context) {
  for (const feature of UPCOMING) if (feature.on) await feature.configure(context);
}

/** @returns {FeatureState[]} what the results record about this run */
export function describeFeatures() {
  const extra = process.env.BENCH_PROXY_APP_ENV
    ? ` (with BENCH_PROXY_APP_ENV=${process.env.BENCH_PROXY_APP_ENV})`
    : '';
  return [...BUILT_IN, ...UPCOMING.map(({ name, on, how }) => ({ name, on, how: `${how}${extra}` }))];
}

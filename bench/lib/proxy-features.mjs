// @ts-check
// Which of modelgate's features the proxy benchmark runs with. The goal (issue 18) is measured with every feature
// on: authentication, validation, request logging and metrics are always on in modelgate-app; routing, per-key
// limits and the usage ledger are switched on here:
//  - `env`: variables added to modelgate-app's environment (the routing file, the usage ledger);
//  - `configure`: admin API calls after the benchmark's key exists (its policy: an allowed-models list and limits
//    far above what the run sends, so they are checked and counted on every request but never refuse one);
//  - BENCH_PROXY_APP_ENV: a JSON object of extra variables for a one-off run, `{upstream}` and `{dir}` in its values
//    replaced by the upstream's URL and the pod's directory.
// The same build also runs with limits and the usage ledger off (target modelgate-no-limits: the key has no policy,
// USAGE_LEDGER=off), so that their cost per request is measured in the same rounds (issue 17).
import fs from 'node:fs';
import path from 'node:path';

/**
 * @typedef {{ upstreamUrl: string, upstreamKey: string, dir: string }} FeatureContext
 * @typedef {{ base: string, adminToken: string, keyId: string }} KeyContext
 * @typedef {{ name: string, on: boolean, how: string }} FeatureState
 * @typedef {'all' | 'no-limits'} FeatureSet all: every feature on; no-limits: limits and the usage ledger off
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

/** The bench key's policy: checked and counted on every request, never reached by a run. */
const POLICY = {
  allowed_models: ['bench-model-*'],
  requests_per_minute: 1_000_000_000,
  tokens_per_minute: 1_000_000_000_000,
  monthly_token_budget: 1_000_000_000_000_000,
};

/** The upstream's bearer token travels in this variable, as a routing file names it. */
const UPSTREAM_KEY_ENV = 'BENCH_UPSTREAM_API_KEY';

/**
 * The switchable features. `in` says which feature sets have it on; `env` and `configure` switch it on.
 * @type {{ name: string, in: FeatureSet[], how: string, env: (c: FeatureContext) => Record<string, string>,
 *   configure: (c: KeyContext) => Promise<void> }[]}
 */
const SWITCHED = [
  {
    name: 'routing',
    in: ['all', 'no-limits'],
    how: 'ROUTING_FILE: one upstream (its key from a variable), a glob route to it',
    env: (c) => ({ ROUTING_FILE: writeRoutingFile(c), [UPSTREAM_KEY_ENV]: c.upstreamKey }),
    configure: async () => {},
  },
  {
    name: 'limits',
    in: ['all'],
    how: `the key's policy: allowed models ${POLICY.allowed_models.join(', ')}, requests and tokens per minute and a monthly token budget far above the run's (checked, counted and settled on every request; none refused)`,
    env: () => ({}),
    configure: (c) => setKeyPolicy(c),
  },
  {
    name: 'usage ledger',
    in: ['all'],
    how: "USAGE_LEDGER=on: one record per completion, written in batches to the run's PostgreSQL",
    env: () => ({ USAGE_LEDGER: 'on' }),
    configure: async () => {},
  },
];

/** @param {FeatureContext} context @returns {string} the routing file's path */
function writeRoutingFile(context) {
  const file = path.join(context.dir, 'routing.json');
  const routing = {
    upstreams: { bench: { url: context.upstreamUrl, apiKeyEnv: UPSTREAM_KEY_ENV } },
    routes: [{ match: { glob: 'bench-model-*' }, targets: [{ upstream: 'bench' }] }],
  };
  fs.writeFileSync(file, `${JSON.stringify(routing, null, 2)}\n`);
  return file;
}

/** @param {KeyContext} context */
async function setKeyPolicy(context) {
  const response = await fetch(`${context.base}/api/v1/admin/keys/${context.keyId}/limits`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${context.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(POLICY),
  });
  if (response.status !== 200)
    throw new Error(`setting the bench key's limits failed: ${response.status} ${await response.text()}`);
}

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

/** @param {FeatureSet} set */
const switchedIn = (set) => SWITCHED.filter((f) => f.in.includes(set));

/**
 * @param {FeatureContext} context @param {FeatureSet} set
 * @returns {Record<string, string>} modelgate-app's extra environment
 */
export function featureEnv(context, set) {
  fs.mkdirSync(path.resolve(context.dir), { recursive: true });
  return {
    ...(set === 'all' ? {} : { USAGE_LEDGER: 'off' }),
    ...Object.assign({}, ...switchedIn(set).map((f) => f.env(context))),
    ...extraEnv(context),
  };
}

/** @param {KeyContext} context @param {FeatureSet} set */
export async function configureFeatures(context, set) {
  for (const feature of switchedIn(set)) await feature.configure(context);
}

/**
 * @param {FeatureSet} [set] @returns {FeatureState[]} what the results record about a run of that feature set
 */
export function describeFeatures(set = 'all') {
  const extra = process.env.BENCH_PROXY_APP_ENV
    ? ` (with BENCH_PROXY_APP_ENV=${process.env.BENCH_PROXY_APP_ENV})`
    : '';
  return [
    ...BUILT_IN,
    ...SWITCHED.map((f) => {
      const on = f.in.includes(set);
      return { name: f.name, on, how: `${on ? f.how : 'off in this target'}${extra}` };
    }),
  ];
}

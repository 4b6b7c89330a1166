/** What the OpenAPI document says of every routed operation (chat completions, embeddings) beyond its body. */
import { rateLimitHeaderDocs } from '../limits/rate-limit-headers';
import { RETRY_AFTER, type HeaderDoc } from '../operations';

/** The headers of a routed answer: who served it, under which name, and the key's per-minute limits. */
export const routedHeaders: Readonly<Record<string, string | HeaderDoc>> = {
  'X-Modelgate-Upstream': 'The routing file upstream that served the request (`default` for UPSTREAM_URL).',
  'X-Modelgate-Upstream-Model':
    'The model name that upstream was sent (percent-encoded when it is not a valid header value).',
  ...rateLimitHeaderDocs(),
};

/**
 * The key's limits are checked before a request goes upstream: a 429 of theirs carries the x-ratelimit-* headers,
 * and so does every later error of a request they admitted (the upstream refusing, failing or timing out).
 */
export const routedErrorHeaders: Readonly<Record<number, Readonly<Record<string, string | HeaderDoc>>>> = {
  400: rateLimitHeaderDocs(),
  429: { 'Retry-After': RETRY_AFTER, ...rateLimitHeaderDocs() },
  502: rateLimitHeaderDocs(),
  503: rateLimitHeaderDocs(),
  504: rateLimitHeaderDocs(),
};

/** Error statuses of a routed request beyond the ones every route can answer. */
export const ROUTED_ERRORS = [401, 403, 404, 429, 502, 503, 504] as const;

/** Their wording; `type` is the model type the operation needs, with its article ("an LLM"). */
export const routedErrorNotes = (type: string): Readonly<Record<number, string>> => ({
  400: `Invalid request (\`error.param\` names the field); \`model_not_supported\`: the model is not ${type} model (its type is named); \`upstream_rejected\`: the upstream refused the request itself.`,
  403: "`model_not_allowed`: the model is outside the key's allowed models.",
  404: 'The model is not in the catalog; `error.suggestions` lists near misses.',
  429: "`rate_limit_exceeded`: the key's requests or tokens per minute; `insufficient_quota`: its monthly token budget; `upstream_rate_limited`: every upstream of the model is rate limiting. See Retry-After.",
  502: '`upstream_unreachable`, `upstream_error`, `upstream_auth_failed`, `upstream_model_not_found`: no upstream answered, the last one for the reason given.',
  503: '`upstream_unavailable` (every upstream open-circuited, full or rate limiting; see Retry-After), `model_not_routed`, `upstream_not_configured`, the catalog is not loaded, or `database_unavailable` (with Retry-After): the key, or its limits with LIMITS_ON_STORE_ERROR=closed, cannot be checked while the database is unreachable.',
  504: '`upstream_timeout`: no upstream answered within its timeout or the routing deadline.',
});

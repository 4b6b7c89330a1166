import * as z from 'zod';
import { formatDuration, parseDuration } from '../../../core/config/duration';
import { modelTypes } from '../../../core/artifact/schema';

/**
 * The routing file (ROUTING_FILE, YAML or JSON): which OpenAI-compatible upstreams exist and which of them serve
 * which models. Validated as a whole: a file with any problem is never loaded, and every problem is reported
 * with its key path.
 */

const duration = (what: string) =>
  z.string().transform((raw, ctx) => {
    const ms = parseDuration(raw);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `is not a duration (${what}: e.g. 500ms, 30s, 2m)` });
      return z.NEVER;
    }
    return ms;
  });

/** Titled `duration` so the generated docs and the chart's schema say what form the string takes. */
const positiveDuration = (what: string) =>
  duration(what)
    .refine((ms) => ms > 0, { message: `must be longer than 0 (${what})` })
    .meta({ title: 'duration' });

/** Environment variable names as POSIX shells and Kubernetes accept them. */
const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'is not an environment variable name (letters, digits, _)' });

const upstreamUrl = z.string().superRefine((raw, ctx) => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    ctx.addIssue({
      code: 'custom',
      message: 'is not a URL (expected http:// or https://host[:port][/prefix])',
    });
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    ctx.addIssue({ code: 'custom', message: `has the unsupported scheme ${url.protocol} (http: or https:)` });
  if (url.username || url.password)
    ctx.addIssue({ code: 'custom', message: 'must not carry credentials; put the key in apiKeyEnv' });
  if (url.search || url.hash) ctx.addIssue({ code: 'custom', message: 'must not have a query or fragment' });
});

export const DEFAULT_UPSTREAM_TIMEOUT_MS = 60_000;
export const DEFAULT_DEADLINE_MS = 120_000;
export const DEFAULT_BREAKER_FAILURES = 5;
export const DEFAULT_BREAKER_COOLDOWN_MS = 30_000;

// The descriptions below are the routing file's documentation: docs/configuration.md's key table and the chart's
// values.schema.json are generated from them.

export const breakerSchema = z
  .strictObject({
    failures: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(DEFAULT_BREAKER_FAILURES)
      .describe(
        'Consecutive failures (connect errors, timeouts, 5xx, refused credentials) that open the circuit breaker.',
      ),
    cooldown: positiveDuration('breaker cool-down')
      .prefault(formatDuration(DEFAULT_BREAKER_COOLDOWN_MS))
      .describe(
        'How long the breaker stays open before one trial request is let through; its success closes it.',
      ),
  })
  .prefault({})
  .describe("The upstream's circuit breaker.");

export const upstreamSchema = z.strictObject({
  url: upstreamUrl.describe(
    'Base URL (http:// or https://, no credentials); the gateway appends /v1/chat/completions and /v1/embeddings.',
  ),
  apiKeyEnv: envName
    .optional()
    .describe(
      'Name of the environment variable holding the bearer token (in Kubernetes, a key of a Secret); it must be set. Unset: no Authorization header.',
    ),
  timeout: positiveDuration('time to response headers')
    .prefault(formatDuration(DEFAULT_UPSTREAM_TIMEOUT_MS))
    .describe("Time allowed until the upstream's response headers; then the next target."),
  maxConcurrency: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .optional()
    .describe(
      'Requests in flight to this upstream at once; a full upstream is passed over like an unavailable one. Unset: no cap.',
    ),
  breaker: breakerSchema,
});

/** Which model name a target is sent: the catalog's upstream id, the public name, or a fixed rename. */
export const targetSchema = z
  .strictObject({
    upstream: z.string().min(1).describe('Name of an upstream defined under upstreams.'),
    priority: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(0)
      .describe(
        'Lower is tried first; the next priority only once every target of this one failed or was passed over.',
      ),
    weight: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(1)
      .describe("Share of its priority's traffic; the other targets of that priority follow as fallbacks."),
    model: z
      .enum(['upstream_id', 'name'])
      .optional()
      .describe(
        'Which catalog field is sent upstream as model: the upstream id or the public name. Unset: upstream_id.',
      ),
    rename: z
      .string()
      .min(1)
      .max(512)
      .optional()
      .describe('A fixed model name to send this upstream instead (not together with model).'),
  })
  .refine((t) => !(t.model !== undefined && t.rename !== undefined), {
    message: 'sets both model and rename; rename already fixes the name sent upstream',
    path: ['rename'],
  });

/** Every key given must match; no key (or no `match`) matches every model. */
export const matchSchema = z.strictObject({
  name: z.string().min(1).optional().describe('The public model name, exactly.'),
  glob: z
    .string()
    .min(1)
    .optional()
    .describe('A pattern of public names: * any run of characters (slashes included), ? one character.'),
  tag: z.string().min(1).optional().describe("One of the model's catalog tags (case-sensitive)."),
  type: z.enum(modelTypes).optional().describe("The model's catalog type."),
});

export const routeSchema = z.strictObject({
  match: matchSchema
    .default({})
    .describe(
      'Which models the route serves: every key given must fit; none (or no match) fits every model.',
    ),
  targets: z
    .array(targetSchema)
    .min(1, { message: 'must list at least one target' })
    .describe('Where its requests go, in order of priority.'),
});

export const unknownModelUses = ['both', 'chat', 'embeddings', 'none'] as const;

export const settingsSchema = z
  .strictObject({
    deadline: positiveDuration('total time until the first byte')
      .prefault(formatDuration(DEFAULT_DEADLINE_MS))
      .describe(
        'Time allowed until the first byte reaches the client, over every attempt and failover; then 504.',
      ),
    unknownModels: z
      .enum(unknownModelUses)
      .default('both')
      .describe(
        'Which endpoints accept catalog models of type UNKNOWN: both, chat, embeddings or none (then a 400).',
      ),
  })
  .prefault({})
  .describe('Settings of the whole routing.');

/** The whole file. That every target names a defined upstream is checked beside it (routing-source.ts). */
export const routingFileSchema = z.strictObject({
  settings: settingsSchema,
  upstreams: z
    .record(
      z.string().regex(/^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$/, {
        message: 'is not an upstream name (lower-case letters, digits, - and _)',
      }),
      upstreamSchema,
    )
    .refine((u) => Object.keys(u).length > 0, { message: 'must define at least one upstream' })
    .describe(
      'The OpenAI-compatible upstreams by name (lower-case letters, digits, - and _; shown in metrics, /status and the x-modelgate-upstream header).',
    ),
  routes: z
    .array(routeSchema)
    .min(1, { message: 'must list at least one route' })
    .describe(
      'The first route whose match fits a model decides its targets; a model no route fits is a 503.',
    ),
});

export type RoutingFile = z.output<typeof routingFileSchema>;
export type UpstreamSpec = z.output<typeof upstreamSchema>;
export type RouteSpec = z.output<typeof routeSchema>;
export type TargetSpec = z.output<typeof targetSchema>;
export type MatchSpec = z.output<typeof matchSchema>;
export type RoutingSettings = z.output<typeof settingsSchema>;
export type UnknownModelUse = (typeof unknownModelUses)[number];

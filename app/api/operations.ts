import type { Request, RequestHandler, Response, Router } from 'express';
import type * as z from 'zod';
import { parseInput } from './validation';

/**
 * One row of the API's route table: what express routes and what the OpenAPI document (openapi.ts) says, written
 * once. The schemas are the ones the route parses its input with; response schemas type the presenters' output.
 */
export interface Operation<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
> {
  operationId: string;
  method: 'get' | 'post' | 'put' | 'delete';
  /** The express path (`/auth/keys/:id`, `/models/*id`); the document writes `{id}`. */
  path: string;
  summary: string;
  security: 'apiKey' | 'adminToken' | 'none';
  params?: P;
  query?: Q;
  /** `required: false`: a request without a body is taken as `{}`. */
  body?: { schema: B; required: boolean };
  /** Success statuses; `schema` undefined for an empty body (204). */
  responses: Record<number, Reply>;
  /** Error statuses this operation answers beyond the ones every route can (400, 413, 415, 500). */
  errors: readonly number[];
  /** Wording of an error status specific to this operation. */
  errorNotes?: Readonly<Record<number, string>>;
  /** Headers an error status of this operation carries (besides Retry-After on every 503). */
  errorHeaders?: Readonly<Record<number, Readonly<Record<string, string | HeaderDoc>>>>;
}

/** A response header the document describes with its own schema (a bare description is a string header). */
export interface HeaderDoc {
  description: string;
  schema: Readonly<Record<string, unknown>>;
}

/** On 503 database_unavailable (app/http/errors.ts), a routed 503 upstream_unavailable and a 429. */
export const RETRY_AFTER: HeaderDoc = {
  description: 'Seconds to wait before retrying.',
  schema: { type: 'integer', minimum: 1 },
};

export interface Reply {
  description: string;
  /** Built when the document is (response schemas are not needed to serve, so start-up does not build them). */
  schema?: () => z.ZodType;
  /** Also answers with server-sent events (`text/event-stream`). */
  eventStream?: boolean;
  /** Response headers it carries, by name, with what each says. */
  headers?: Readonly<Record<string, string | HeaderDoc>>;
}

/** A value built on first use and kept. */
export function lazily<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= build());
}

export const operation = <P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
  op: Operation<P, Q, B>,
): Operation<P, Q, B> => op;

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface Input<P, Q, B> {
  params: Out<P>;
  query: Out<Q>;
  body: Out<B>;
}

/** Express gives a wildcard parameter (`*id`) as its segments; the API names one id. */
function joinedParams(params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(params))
    out[name] = Array.isArray(value) ? value.join('/') : value;
  return out;
}

/** Registers `op` on the router: guards (authentication), then its input parsed with its schemas, then `handle`. */
export function mount<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
  router: Router,
  op: Operation<P, Q, B>,
  guards: readonly RequestHandler[],
  handle: (input: Input<P, Q, B>, req: Request, res: Response) => unknown,
): void {
  router[op.method](op.path, ...guards, async (req: Request, res: Response) => {
    const input = {
      params: op.params ? parseInput(op.params, joinedParams(req.params), 'path') : undefined,
      query: op.query ? parseInput(op.query, req.query, 'query') : undefined,
      body: op.body
        ? parseInput(op.body.schema, req.body === undefined && !op.body.required ? {} : req.body, 'body')
        : undefined,
    } as Input<P, Q, B>;
    await handle(input, req, res);
  });
}

import type { z } from 'zod';
import { BadRequestError } from './errors';

export type InputPlace = 'body' | 'query' | 'path';

/** `messages[0].content` from a zod issue path. */
export function fieldName(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** Parses request input; a mismatch is a 400 whose `param` names the first offending field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, place: InputPlace): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue ? fieldName(issue.path) : '';
  if (field === '') {
    const message =
      place === 'body'
        ? 'The request body must be a JSON object sent with Content-Type: application/json.'
        : `Invalid ${place} parameters: ${issue?.message ?? 'they do not match the expected form'}.`;
    throw new BadRequestError(message, { code: 'invalid_request', param: null });
  }
  throw new BadRequestError(`Invalid ${field} (${place}): ${issue?.message ?? 'invalid value'}.`, {
    code: 'invalid_value',
    param: field,
  });
}

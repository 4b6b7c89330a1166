import * as z from 'zod';
import { BadRequestError } from '../http/errors';

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

const isPlainObject = (value: unknown) =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The fields an object schema accepts, for the message about an unknown one (top level only). */
function acceptedFields(schema: z.ZodType, path: readonly PropertyKey[]): string {
  if (path.length > 0 || !(schema instanceof z.ZodObject)) return '';
  const names = Object.keys(schema.shape);
  return names.length > 0 ? ` It accepts ${names.join(', ')}.` : '';
}

/** Parses request input; a mismatch is a 400 whose `param` names the first offending field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, place: InputPlace): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue?.code === 'unrecognized_keys') {
    const field = fieldName([...issue.path, issue.keys[0] ?? '']);
    throw new BadRequestError(
      `Unknown field ${field} (${place}); remove it.${acceptedFields(schema, issue.path)}`,
      { code: 'unknown_field', param: field },
    );
  }
  const field = issue ? fieldName(issue.path) : '';
  if (field === '') {
    const message =
      place === 'body' && !isPlainObject(value)
        ? 'The request body must be a JSON object sent with Content-Type: application/json.'
        : `Invalid ${place}: ${issue?.message ?? 'it does not match the expected form'}.`;
    throw new BadRequestError(message, { code: 'invalid_request', param: null });
  }
  throw new BadRequestError(`Invalid ${field} (${place}): ${issue?.message ?? 'invalid value'}.`, {
    code: 'invalid_value',
    param: field,
  });
}

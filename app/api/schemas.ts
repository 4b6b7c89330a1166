import * as z from 'zod';

/**
 * PostgreSQL text cannot hold NUL; such input is refused with a 400 instead of failing in the database. A pattern
 * rather than a refinement, so the published document states it too.
 */
export const safeText = (max: number) =>
  z
    .string()
    .max(max)
    // eslint-disable-next-line no-control-regex -- NUL is exactly what is refused
    .regex(/^[^\u0000]*$/, { message: 'must not contain NUL characters' });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids in paths are UUIDs; anything else cannot name a row, so it is treated like an unknown id. */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/**
 * An integer query parameter: digits only (no sign, exponent or spaces), then the range. The document describes
 * it by its parsed side (an integer in range), as OpenAPI describes query parameters.
 */
const integerParam = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { message: 'expected a non-negative integer' })
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_SKIP = 1_000_000_000;

export const pageQuery = z.looseObject({
  skip: integerParam(0, MAX_SKIP).default(0).meta({ description: 'How many items to skip.' }),
  limit: integerParam(1, MAX_PAGE_SIZE)
    .default(DEFAULT_PAGE_SIZE)
    .meta({ description: `Page size, at most ${MAX_PAGE_SIZE}.` }),
});
export type Page = z.output<typeof pageQuery>;

/** Path parameter `id`, documented with what it names. */
export const idParam = (description: string) => z.strictObject({ id: z.string().meta({ description }) });

export interface PageResult<T> {
  items: T[];
  total: number;
}

/** A page of items as answered by every list route. */
export const pageOf = <T extends z.ZodType>(item: T) =>
  z.strictObject({
    object: z.literal('list'),
    data: z.array(item),
    skip: z.int().min(0).max(MAX_SKIP),
    limit: z.int().min(1).max(MAX_PAGE_SIZE),
    total: z.int().min(0),
    has_more: z.boolean(),
  });

export function listBody<T>(items: T[], total: number, page: Page) {
  return {
    object: 'list' as const,
    data: items,
    skip: page.skip,
    limit: page.limit,
    total,
    has_more: page.skip + items.length < total,
  };
}

export const timestamp = () => z.iso.datetime();

export function iso(date: Date): string;
export function iso(date: Date | null): string | null;
export function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

import * as z from 'zod';

/** PostgreSQL text cannot hold NUL; such input is refused with a 400 instead of failing in the database. */
export const safeText = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !s.includes('\u0000'), { message: 'must not contain NUL characters' });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids in paths are UUIDs; anything else cannot name a row, so it is treated like an unknown id. */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

const integerParam = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, { message: 'expected a non-negative integer' })
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 50;

export const pageQuery = z.looseObject({
  skip: integerParam(0, 1_000_000_000).default(0),
  limit: integerParam(1, MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
});
export type Page = z.output<typeof pageQuery>;

export interface PageResult<T> {
  items: T[];
  total: number;
}

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

export function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

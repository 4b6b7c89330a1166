import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API keys look like `sk-<prefix>.<secret>`: the prefix (12 hex characters) finds the row and may be shown, the
 * secret (32 random bytes, base64url) is known only to the holder; the database keeps its SHA-256.
 */
export const PREFIX_BYTES = 6;
export const SECRET_BYTES = 32;
export const KEY_PATTERN = /^sk-([0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/;

export interface GeneratedKey {
  /** The full key, shown to its owner once. */
  key: string;
  prefix: string;
  secretSha256: Buffer;
}

export function generateKey(): GeneratedKey {
  const prefix = randomBytes(PREFIX_BYTES).toString('hex');
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  return { key: `sk-${prefix}.${secret}`, prefix, secretSha256: hashSecret(secret) };
}

export function parseKey(text: string): { prefix: string; secret: string } | undefined {
  const match = KEY_PATTERN.exec(text);
  if (!match) return undefined;
  return { prefix: match[1]!, secret: match[2]! };
}

export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Constant time in the secret: both sides are 32-byte digests. */
export function secretMatches(secret: string, storedSha256: Buffer): boolean {
  const given = hashSecret(secret);
  return storedSha256.length === given.length && timingSafeEqual(given, storedSha256);
}

/** What a listing shows instead of the key. */
export function displayPrefix(prefix: string): string {
  return `sk-${prefix}`;
}

/** Reads `Authorization: Bearer <token>`; undefined when the header is missing or of another scheme. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** Compares two tokens in constant time regardless of their lengths (both are hashed first). */
export function tokensEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

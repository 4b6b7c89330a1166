import { scryptSync } from 'node:crypto';

/**
 * MODEL_SOURCE_URL may carry a secret: `user:password@` (sent as HTTP basic auth) or a token in the query. The
 * artifact records where its models came from and lands in places that are not Secrets (the ConfigMap, MODELS_FILE,
 * /status, metrics, logs), so it keeps the URL without userinfo, query and fragment. When something was removed, a
 * fragment `#scrypt=<hex>` follows: a hash of the full URL, by which init recognises the same source (a changed
 * password, token or query parameter is a different source). A fragment keeps format version 1 valid for every
 * reader, old ones included: `source.url` is any string to them, and the app never shows a fragment.
 */

/**
 * scrypt, not a plain sha256: whoever can read the ConfigMap could test guesses of a weak password against the hash
 * offline; 4 MiB of memory per guess makes that slow. About 12 ms of CPU, paid once per init run and only by URLs that
 * carry a secret. The salt is fixed so that equal URLs give equal labels on every pod.
 */
const SCRYPT = { N: 4096, r: 8, p: 1 } as const;
const SALT = 'modelgate model source v1';
const ID_FRAGMENT = /^#scrypt=[0-9a-f]{64}$/;
/** What a reader makes of a URL still holding a secret (written by a version before the redaction): no identity. */
const UNIDENTIFIED = '#redacted';

function parse(raw: string): URL | undefined {
  try {
    return new URL(raw);
  } catch {
    return undefined;
  }
}

function withoutSecrets(url: URL): string {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  copy.search = '';
  copy.hash = '';
  return copy.href;
}

/** The source URL as logged and shown (/status, metrics, `init status`): no user, password, query or fragment. */
export function redactSourceUrl(raw: string): string {
  const url = parse(raw);
  return url ? withoutSecrets(url) : 'an unparsable URL';
}

/**
 * What init stores as `source.url` for MODEL_SOURCE_URL: the URL itself when it holds nothing to redact, else the
 * redacted URL and `#scrypt=<hash of the full URL>`. Equal labels mean the same source.
 */
export function sourceLabel(raw: string): string {
  const url = parse(raw);
  if (!url) return 'an unparsable URL';
  const redacted = withoutSecrets(url);
  if (redacted === url.href) return url.href;
  return `${redacted}#scrypt=${scryptSync(url.href, SALT, 32, SCRYPT).toString('hex')}`;
}

/**
 * `source.url` as every reader takes it from an artifact: a label passes unchanged; a URL that still holds a
 * userinfo, query or fragment (an artifact written before this redaction) loses them and any identity, so init
 * fetches afresh rather than reuse it, and nothing downstream ever holds the secret. Cheap: no hashing.
 */
export function readSourceUrl(stored: string): string {
  const url = parse(stored);
  if (!url) return stored;
  if (url.username === '' && url.password === '' && url.search === '') {
    if (url.hash === '' || ID_FRAGMENT.test(url.hash)) return stored;
  }
  return `${withoutSecrets(url)}${UNIDENTIFIED}`;
}

/**
 * The parts of a source URL that must never be printed (user, password, query values, both as written and
 * decoded), for the loggers' scrubbing: a second line of defence behind `redactSourceUrl`.
 */
export function sourceUrlSecrets(raw: string | undefined): string[] {
  const url = raw === undefined ? undefined : parse(raw);
  if (!url) return [];
  const parts = [url.username, url.password, url.search.slice(1)];
  for (const value of url.searchParams.values()) parts.push(value);
  const decoded = parts.map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  });
  return [...new Set([...parts, ...decoded])].filter((part) => part !== '');
}

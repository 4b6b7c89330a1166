import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { openApiDocument as buildDocument } from '../../../app/api/openapi';

const openApiDocument = buildDocument();

type HeaderSchema = { type?: string; minimum?: number; pattern?: string };
type Operation = {
  responses: Record<
    string,
    { content?: Record<string, { schema: unknown }>; headers?: Record<string, { schema: HeaderSchema }> }
  >;
};
/** A response's headers as fetch (Headers) or node:http (lower-case names) give them. */
export type ResponseHeaders = Headers | Record<string, string | string[] | number | undefined>;

/** Headers the document describes per response: one it does not list for that status is a disagreement. */
const DESCRIBED_HEADER = /^(x-ratelimit-|retry-after$|x-modelgate-upstream)/i;
const doc = openApiDocument as unknown as { paths: Record<string, Record<string, Operation>> };

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ ...openApiDocument, $id: 'openapi' } as object);

const pointer = (...parts: string[]) =>
  parts.map((p) => encodeURIComponent(p.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');

/** Paths of the document as regular expressions over a path below the mount point. */
const templates = Object.keys(doc.paths).map((template) => ({
  template,
  pattern: new RegExp(
    `^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{id\}/g, template.startsWith('/models/') ? '(.+)' : '([^/]+)')}$`,
  ),
}));

export function templateOf(path: string): string | undefined {
  // express routing is not strict: a trailing slash names the same route.
  const below = path
    .replace(/^\/(api\/)?v1/, '')
    .split('?')[0]!
    .replace(/(.)\/$/, '$1');
  return templates.find((t) => t.pattern.test(below))?.template;
}

function headerEntries(headers: ResponseHeaders): [string, string][] {
  if (headers instanceof Headers) return [...headers.entries()];
  return Object.entries(headers).flatMap(([name, value]) =>
    value === undefined
      ? []
      : [[name.toLowerCase(), Array.isArray(value) ? value.join(', ') : String(value)]],
  ) as [string, string][];
}

function headerProblem(value: string, schema: HeaderSchema): string | undefined {
  if (schema.type === 'integer') {
    if (!/^-?\d+$/.test(value)) return 'not an integer';
    if (schema.minimum !== undefined && Number(value) < schema.minimum) return `below ${schema.minimum}`;
  }
  if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value))
    return `not matching ${schema.pattern}`;
  return undefined;
}

/** The described headers a response carries are documented for its status, with values their schemas allow. */
function assertHeaders(
  where: string,
  documented: Operation['responses'][string],
  headers: ResponseHeaders,
): void {
  const byName = new Map(
    Object.entries(documented.headers ?? {}).map(([name, doc]) => [name.toLowerCase(), doc.schema]),
  );
  for (const [name, value] of headerEntries(headers)) {
    const schema = byName.get(name);
    if (!schema) {
      if (DESCRIBED_HEADER.test(name)) throw new Error(`${where}: header ${name} is not documented`);
      continue;
    }
    const problem = headerProblem(value, schema);
    if (problem) throw new Error(`${where}: header ${name}: ${JSON.stringify(value)} is ${problem}`);
  }
}

/**
 * Throws when a response disagrees with the document: unknown route, undocumented status, a header the document
 * describes per response (x-ratelimit-*, Retry-After, X-Modelgate-Upstream*) not documented for that status or with
 * a value its schema does not allow, or a JSON body that does not match the schema of that status.
 */
export function assertMatchesOpenApi(
  method: string,
  path: string,
  status: number,
  contentType: string,
  body: unknown,
  headers?: ResponseHeaders,
): void {
  const template = templateOf(path);
  const operation = template ? doc.paths[template]![method.toLowerCase()] : undefined;
  if (!operation) {
    // Unknown routes answer 404, known paths asked with another method 405; a body that cannot be parsed is refused
    // first, whatever the route.
    if (![404, 405, 400, 413, 415].includes(status)) {
      throw new Error(`${method} ${path}: not in the OpenAPI document, yet answered ${status}`);
    }
    const validate =
      ajv.getSchema('openapi#/components/schemas/Error') ??
      ajv.compile({ $ref: 'openapi#/components/schemas/Error' });
    if (!validate(body))
      throw new Error(`${method} ${path} ${status}: not an error body: ${ajv.errorsText(validate.errors)}`);
    return;
  }
  const response = operation.responses[String(status)];
  if (!response) throw new Error(`${method} ${template}: status ${status} is not documented`);
  if (headers) assertHeaders(`${method} ${template} ${status}`, response, headers);
  if (status === 204) return;
  const mediaType = contentType.split(';')[0]!.trim();
  if (!response.content?.[mediaType]) {
    throw new Error(`${method} ${template} ${status}: content type ${mediaType} is not documented`);
  }
  if (mediaType !== 'application/json') return;
  const ref = `openapi#/${pointer('paths', template!, method.toLowerCase(), 'responses', String(status), 'content', mediaType, 'schema')}`;
  const validate = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
  if (!validate(body)) {
    throw new Error(
      `${method} ${template} ${status}: body does not match the OpenAPI schema: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`,
    );
  }
}

import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { openApiDocument as buildDocument } from '../../../app/api/openapi';

const openApiDocument = buildDocument();

type Operation = { responses: Record<string, { content?: Record<string, { schema: unknown }> }> };
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

/**
 * Throws when a response disagrees with the document: unknown route, undocumented status, or a JSON body that
 * does not match the schema of that status.
 */
export function assertMatchesOpenApi(
  method: string,
  path: string,
  status: number,
  contentType: string,
  body: unknown,
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

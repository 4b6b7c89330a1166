import * as z from 'zod';
import { routingFileSchema } from './routing-file';

/**
 * The routing file as JSON Schema (the input form: durations as strings), generated from the one zod schema. The
 * chart's values.schema.json embeds it for `routing.file` (`npm run chart:schema` writes it; a test checks it), so
 * `helm install` refuses a malformed routing file before any pod sees it. The cross-checks (every target names a
 * defined upstream, key variables are set) remain the app's.
 */
export function routingJsonSchema(): Record<string, unknown> {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(routingFileSchema, { io: 'input' }) as Record<
    string,
    unknown
  >;
  return schema;
}

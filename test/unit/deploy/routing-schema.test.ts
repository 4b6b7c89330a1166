import fs from 'node:fs';
import path from 'node:path';
import { routingJsonSchema } from '../../../app/api/routing/routing-json-schema';

const file = path.join(__dirname, '..', '..', '..', 'helm', 'modelgate', 'values.schema.json');

describe("the chart's schema of routing.file", () => {
  it('is the routing file schema of the app (regenerate with `npm run chart:schema`)', () => {
    const schema = JSON.parse(fs.readFileSync(file, 'utf8'));
    const routingFile = schema.properties.routing.properties.file;
    expect(routingFile.anyOf).toEqual([{ type: 'object', maxProperties: 0 }, routingJsonSchema()]);
  });
});

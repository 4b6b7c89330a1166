#!/usr/bin/env node
// @ts-check
// Writes the routing file's JSON Schema (generated from app/api/routing/routing-file.ts) into the chart's
// values.schema.json at routing.file, compiled on the fly with swc like docs-config.js.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { transformSync } = require('@swc/core');

require.extensions['.ts'] = (/** @type {NodeJS.Module} */ module, /** @type {string} */ filename) => {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  /** @type {any} */ (module)._compile(code, filename);
};

const { routingJsonSchema } = require(
  path.join(__dirname, '..', 'app', 'api', 'routing', 'routing-json-schema.ts'),
);
const file = path.join(__dirname, '..', 'helm', 'modelgate', 'values.schema.json');
const schema = JSON.parse(fs.readFileSync(file, 'utf8'));
const routingFile = schema.properties?.routing?.properties?.file;
if (!routingFile || !Array.isArray(routingFile.anyOf))
  throw new Error(`${file}: properties.routing.properties.file.anyOf is missing`);
routingFile.anyOf[1] = routingJsonSchema();
fs.writeFileSync(file, `${JSON.stringify(schema, null, 2)}\n`);
console.log('values.schema.json routing.file updated');

#!/usr/bin/env node
// @ts-check
// Regenerates the configuration table of docs/configuration.md from core/config/variables.ts and its routing file
// table from app/api/routing/routing-file.ts (TypeScript compiled on the fly with swc, so it works while other parts
// of the tree do not build).
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

const { replaceConfigTable } = require(path.join(__dirname, '..', 'core', 'config', 'table.ts'));
const { replaceRoutingTable } = require(
  path.join(__dirname, '..', 'app', 'api', 'routing', 'routing-docs.ts'),
);
const doc = path.join(__dirname, '..', 'docs', 'configuration.md');
fs.writeFileSync(doc, replaceRoutingTable(replaceConfigTable(fs.readFileSync(doc, 'utf8'))));
console.log('docs/configuration.md configuration and routing tables updated');

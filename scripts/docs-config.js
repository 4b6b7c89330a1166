#!/usr/bin/env node
// @ts-check
// Regenerates the README's configuration table from core/config/variables.ts (TypeScript compiled on the fly
// with swc, so it works while other parts of the tree do not build).
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
const readme = path.join(__dirname, '..', 'README.md');
fs.writeFileSync(readme, replaceConfigTable(fs.readFileSync(readme, 'utf8')));
console.log('README.md configuration table updated');

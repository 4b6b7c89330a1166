// @ts-check
// Lets a child process `require()` the TypeScript sources directly (node -r ./swc-register.js file.ts), compiled
// in memory by @swc/core like jest does, so process tests never depend on a stale dist/.
'use strict';
const fs = require('node:fs');
const { transformSync } = require('@swc/core');

/**
 * @param {NodeJS.Module} module
 * @param {string} filename
 */
require.extensions['.ts'] = function compileTypeScript(module, filename) {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  });
  /** @type {any} */ (module)._compile(code, filename);
};

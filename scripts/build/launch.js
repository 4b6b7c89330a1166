// @ts-check
// Runs one bundled executable (dist/bin/<name>.bundle.js) with the V8 code cache written beside it at build
// time. Node 20 has no compile cache of its own, and compiling the bundle from source is most of a cold start:
// with the cache, V8 deserializes the compiled code instead of parsing about 2 MB of JavaScript. A cache made by
// another Node binary (or with other V8 flags) is rejected by V8 and the bundle is compiled from source, so a
// stale or missing cache costs time, never correctness.
'use strict';
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const vm = require('node:vm');

/** @param {string} file */
function readCache(file) {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

/**
 * Compiles and runs `<dir>/<name>.bundle.js` as the CommonJS module it is. With MODELGATE_WRITE_CODE_CACHE=1 (the
 * build's training run), writes the code cache when the process exits: it then holds every function that run
 * compiled, so a real start deserializes them instead of compiling them lazily on the way to ready.
 * @param {string} dir
 * @param {string} name
 */
function launch(dir, name) {
  const file = path.join(dir, `${name}.bundle.js`);
  const cacheFile = path.join(dir, `${name}.bundle.cache`);
  const writing = process.env.MODELGATE_WRITE_CODE_CACHE === '1';
  delete process.env.MODELGATE_WRITE_CODE_CACHE;
  // The build writes ASCII-only bundles (esbuild escapes every other character; bundle.mjs checks it), and read as
  // latin1 they are the same text: decoding megabytes of UTF-8 costs an init or app start several milliseconds,
  // latin1 is a plain copy. The shebang line is kept as a comment so line numbers in stack traces stay right.
  const source = fs.readFileSync(file, 'latin1').replace(/^#!/, '//');
  const cachedData = writing ? undefined : readCache(cacheFile);
  const script = new vm.Script(Module.wrap(source), {
    filename: file,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  if (cachedData && script.cachedDataRejected && process.env.MODELGATE_DEBUG_CODE_CACHE === '1')
    process.stderr.write(`${name}: code cache ${cacheFile} rejected by this Node; compiled from source\n`);
  const bundle = new Module(file, /** @type {NodeJS.Module} */ (/** @type {unknown} */ (module)));
  bundle.filename = file;
  if (writing) process.once('exit', () => fs.writeFileSync(cacheFile, script.createCachedData()));
  const run = script.runInThisContext();
  run.call(bundle.exports, bundle.exports, Module.createRequire(file), bundle, file, dir);
}

module.exports = { launch };

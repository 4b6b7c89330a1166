#!/usr/bin/env node
// @ts-check
// `npm run build`, second step: bundles each executable with esbuild into dist/bin/<name>.bundle.js, writes the
// small launcher dist/bin/<name>.js that package.json's "bin" and the image point at, and a V8 code cache made by
// this Node binary (see launch.js). One file per executable: start-up does not resolve and read hundreds of
// modules, and the image needs no node_modules at all.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = path.join(root, 'dist', 'bin');

/** The executables: name in package.json's "bin", TypeScript entry point. */
const executables = [
  { name: 'modelgate-app', entry: 'app/main.ts' },
  { name: 'modelgate-init', entry: 'init/main.ts' },
];

// knex requires every SQL driver it knows by name; modelgate only ever uses pg. pg-native is pg's optional
// libpq binding, which modelgate does not enable.
const unusedDrivers = [
  'better-sqlite3',
  'mariadb',
  'mysql',
  'mysql2',
  'oracledb',
  'pg-native',
  'pg-query-stream',
  'sqlite3',
  'tedious',
];

/** @param {string} name */
const launcher = (name) => `#!/usr/bin/env node
'use strict';
require('./launch.js').launch(__dirname, ${JSON.stringify(name)});
`;

fs.rmSync(outDir, { recursive: true, force: true });
fs.mkdirSync(outDir, { recursive: true });
fs.copyFileSync(path.join(root, 'scripts', 'build', 'launch.js'), path.join(outDir, 'launch.js'));

for (const { name, entry } of executables) {
  const bundle = path.join(outDir, `${name}.bundle.js`);
  await build({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // Whitespace and syntax only: identifiers keep their names, so stack traces and error names stay readable.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'linked',
    external: unusedDrivers,
    logLevel: 'warning',
  });
  const bin = path.join(outDir, `${name}.js`);
  fs.writeFileSync(bin, launcher(name), { mode: 0o755 });
  // Loading the modules for --help is enough for the cache to hold them; nothing else runs.
  const made = spawnSync(process.execPath, [bin, '--help'], {
    env: { ...process.env, MODELGATE_WRITE_CODE_CACHE: '1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (made.status !== 0) throw new Error(`${name} --help exited ${made.status} while writing its code cache`);
  const size = (/** @type {string} */ file) => `${(fs.statSync(file).size / 1024 / 1024).toFixed(1)} MiB`;
  process.stdout.write(
    `bundled ${name}: ${path.relative(root, bundle)} ${size(bundle)}, code cache ${size(bundle.replace(/\.js$/, '.cache'))}\n`,
  );
}

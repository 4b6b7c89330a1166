#!/usr/bin/env node
// @ts-check
// `npm run build`, second step: bundles each executable with esbuild into dist/bin/<name>.bundle.js, writes the
// small launcher dist/bin/<name>.js that package.json's "bin" and the image point at, and a V8 code cache made by
// this Node binary (see launch.js). One file per executable: start-up does not resolve and read hundreds of
// modules, and the image needs no node_modules at all.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = path.join(root, 'dist', 'bin');

/**
 * Runs modelgate-app once the way a pod starts it, so the code cache holds what start-up compiles: read an artifact,
 * try the database (nothing listens on the port: the schema check fails fast), listen, answer the probes, the
 * metrics and an unauthenticated API call, then drain on SIGTERM. Needs no database and no network.
 * @param {string} bin
 */
async function trainApp(bin) {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelgate-build-'));
  try {
    const { buildArtifact, serializeArtifact } = createRequire(import.meta.url)(
      path.join(root, 'dist', 'core', 'artifact', 'schema.js'),
    );
    const models = Array.from({ length: 50 }, (_, i) => ({
      id: `training-model-${i}`,
      upstreamId: `0x${i.toString(16).padStart(64, '0')}`,
      tags: ['LLM'],
      type: 'LLM',
      createdAt: 1_745_330_395 + i,
      owner: null,
      stake: '1',
      fee: null,
    }));
    const modelsFile = path.join(scratch, 'models.json');
    const fetchedAt = new Date().toISOString();
    const source = { url: 'file:///training/models.json', etag: null, lastModified: null };
    fs.writeFileSync(modelsFile, serializeArtifact(buildArtifact({ models, source, fetchedAt })));
    const child = spawn(process.execPath, [bin], {
      env: {
        PATH: process.env.PATH,
        MODELGATE_WRITE_CODE_CACHE: '1',
        DATABASE_URL: 'postgres://modelgate@127.0.0.1:9/training',
        MODELS_FILE: modelsFile,
        HOST: '127.0.0.1',
        PORT: '0',
        SHUTDOWN_DELAY: '0s',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const port = await new Promise((resolve, reject) => {
      let buffered = '';
      child.stdout.on('data', (chunk) => {
        buffered += chunk;
        const match = /"port":(\d+)[^\n]*"msg":"modelgate-app listening"/.exec(buffered);
        if (match) resolve(Number(match[1]));
      });
      void exited.then((code) => reject(new Error(`the training run of modelgate-app exited ${code}`)));
    });
    for (const route of ['/livez', '/readyz', '/readyz', '/status', '/metrics', '/api/v1/models'])
      await (await fetch(`http://127.0.0.1:${port}${route}`)).arrayBuffer();
    child.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) throw new Error(`the training run of modelgate-app exited ${code} after SIGTERM`);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** @param {string} bin */
async function trainHelp(bin) {
  // Loading the modules for --help is what every command shares.
  const made = spawnSync(process.execPath, [bin, '--help'], {
    env: { ...process.env, MODELGATE_WRITE_CODE_CACHE: '1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (made.status !== 0) throw new Error(`${bin} --help exited ${made.status} while writing its code cache`);
}

/** The executables: name in package.json's "bin", TypeScript entry point, how its code cache is trained. */
const executables = [
  { name: 'modelgate-app', entry: 'app/main.ts', train: trainApp },
  { name: 'modelgate-init', entry: 'init/main.ts', train: trainHelp },
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

for (const { name, entry, train } of executables) {
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
  await train(bin);
  const size = (/** @type {string} */ file) => `${(fs.statSync(file).size / 1024 / 1024).toFixed(1)} MiB`;
  process.stdout.write(
    `bundled ${name}: ${path.relative(root, bundle)} ${size(bundle)}, code cache ${size(bundle.replace(/\.js$/, '.cache'))}\n`,
  );
}

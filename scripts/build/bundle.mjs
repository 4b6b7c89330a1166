#!/usr/bin/env node
// @ts-check
// `npm run build`, second step: bundles each executable with esbuild into dist/bin/<name>.bundle.js, writes the
// small launcher dist/bin/<name>.js that package.json's "bin" and the image point at, a V8 code cache made by
// this Node binary (see launch.js), and a source map (<name>.bundle.js.map) for profiles. One file per executable: start-up does not resolve and read hundreds of
// modules, and the image needs no node_modules at all.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = path.join(root, 'dist', 'bin');

/**
 * Runs modelgate-app once the way a pod starts it, so the code cache holds what start-up compiles: read an artifact,
 * try the database (nothing listens on the port: the schema check fails fast), listen, answer the probes, the
 * metrics and an unauthenticated API call, then drain on SIGTERM. Needs no database and no network.
 * @param {string} bin @param {string} scratch
 */
async function trainApp(bin, scratch) {
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
      if (!match) return;
      clearTimeout(timer);
      resolve(Number(match[1]));
    });
    void exited.then((code) => reject(new Error(`the training run of modelgate-app exited ${code}`)));
    // A build never hangs on it: a start that does not listen within 30 s fails the build, with what it printed.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the training run of modelgate-app did not listen within 30 s:\n${buffered}`));
    }, 30_000).unref();
  });
  for (const route of ['/livez', '/readyz', '/readyz', '/status', '/metrics', '/api/v1/models'])
    await (await fetch(`http://127.0.0.1:${port}${route}`)).arrayBuffer();
  child.kill('SIGTERM');
  const code = await exited;
  if (code !== 0) throw new Error(`the training run of modelgate-app exited ${code} after SIGTERM`);
}

/**
 * Runs `modelgate-init models` with a ConfigMap cache on an API server that is not there: it loads the Kubernetes
 * client (most of an init container's start-up), builds and sends the request, and fails as it should (exit 1,
 * "cannot reach"), writing its summary. What a real run adds (queries, the source fetch) compiles lazily.
 * @param {string} bin @param {string} scratch
 */
async function trainInit(bin, scratch) {
  const kubeconfig = path.join(scratch, 'kubeconfig');
  const cluster = { server: 'https://127.0.0.1:9', 'insecure-skip-tls-verify': true };
  fs.writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'training', cluster }],
      users: [{ name: 'training', user: { token: 'training' } }],
      contexts: [{ name: 'training', context: { cluster: 'training', user: 'training' } }],
      'current-context': 'training',
    }),
  );
  const made = spawnSync(process.execPath, [bin, 'models'], {
    env: {
      PATH: process.env.PATH,
      MODELGATE_WRITE_CODE_CACHE: '1',
      KUBECONFIG: kubeconfig,
      MODELS_CONFIGMAP: 'training/modelgate-models',
      MODEL_SOURCE_URL: `file://${path.join(root, 'examples', 'models.morpheus.json')}`,
      DATABASE_URL: 'postgres://modelgate@127.0.0.1:9/training',
      MODELS_FILE: path.join(scratch, 'models.json'),
      LOG_LEVEL: 'info',
    },
    encoding: 'utf8',
    // A build never hangs on it (the training run normally takes well under a second).
    timeout: 60_000,
  });
  if (made.status !== 1 || !made.stdout.includes('cannot reach https://127.0.0.1:9'))
    throw new Error(
      `the training run of modelgate-init ended unexpectedly (${made.status}):\n${made.stdout}${made.stderr}`,
    );
}

/** The executables: name in package.json's "bin", TypeScript entry point, how its code cache is trained. */
const executables = [
  { name: 'modelgate-app', entry: 'app/main.ts', train: trainApp },
  { name: 'modelgate-init', entry: 'init/main.ts', train: trainInit },
];

// knex requires every SQL driver it knows by name; modelgate only ever uses pg. pg-native is pg's optional
// libpq binding, which modelgate does not enable.
const notBundled = [
  'better-sqlite3',
  'mariadb',
  'mysql',
  'mysql2',
  'oracledb',
  'pg-native',
  'pg-query-stream',
  'sqlite3',
  'tedious',
  // debug (knex's) colours its DEBUG output when supports-color is installed, and runs fine without it: a dev
  // dependency here, so it stays out of the bundles and the image.
  'supports-color',
];

/**
 * Two places where loading axios touches Node's web globals, which loads Node's whole fetch implementation (undici,
 * about 20 ms of every init start) that modelgate-init never uses:
 * - its fetch adapter builds Request and Response objects to probe what the runtime supports. Init asks axios for
 *   its http adapter by name, so the bundles get a fetch adapter that reports itself unsupported (false is axios'
 *   own "not available here");
 * - its utils read globalThis.FormData once, for an instanceof check; without it, axios recognises a FormData by its
 *   [object FormData] tag, as it does for the form-data package. The build fails if that line changes upstream.
 * @type {import('esbuild').Plugin}
 */
const axiosWithoutWebGlobals = {
  name: 'axios-without-web-globals',
  setup(b) {
    b.onLoad({ filter: /[\\/]axios[\\/]lib[\\/]adapters[\\/]fetch\.js$/ }, () => ({
      contents: 'export const getFetch = () => false;\nexport default false;\n',
      loader: 'js',
    }));
    b.onLoad({ filter: /[\\/]axios[\\/]lib[\\/]utils\.js$/ }, (args) => {
      const source = fs.readFileSync(args.path, 'utf8');
      const line = "const FormDataCtor = typeof G.FormData !== 'undefined' ? G.FormData : undefined;";
      if (!source.includes(line))
        throw new Error(
          `${args.path}: the FormData line this build replaces has changed; update scripts/build/bundle.mjs`,
        );
      return { contents: source.replace(line, 'const FormDataCtor = undefined;'), loader: 'js' };
    });
  },
};

/**
 * mime-types (express' and body-parser's, and form-data's under axios) fills its extension and type maps when it is
 * loaded: a walk over mime-db's 2,500 types that costs every app start about 3 ms of CPU, for maps only
 * `lookup(extension)` and `extension(type)` read (express' res.type('json'), sendFile). modelgate's request path
 * never does: content types are full (`application/json`), which mime-types answers from mime-db directly. The
 * bundles get the same module with both maps filled on their first read. The build fails if that line changes
 * upstream.
 * @type {import('esbuild').Plugin}
 */
const mimeMapsOnFirstRead = {
  name: 'mime-maps-on-first-read',
  setup(b) {
    b.onLoad({ filter: /[\\/]mime-types[\\/]index\.js$/ }, (args) => {
      const source = fs.readFileSync(args.path, 'utf8');
      const line = 'populateMaps(exports.extensions, exports.types)';
      if (!source.includes(line))
        throw new Error(
          `${args.path}: the populateMaps line this build replaces has changed; update scripts/build/bundle.mjs`,
        );
      // The module has no semicolons: the one in front keeps the line before from being called.
      const lazy = `;(function mapsOnFirstRead(extensions, types) {
  var filled = false
  function fill() {
    // Marked first: populateMaps reads exports.types while it fills them.
    if (!filled) {
      filled = true
      populateMaps(extensions, types)
    }
  }
  Object.defineProperty(exports, 'extensions', { enumerable: true, get: function () { fill(); return extensions } })
  Object.defineProperty(exports, 'types', { enumerable: true, get: function () { fill(); return types } })
})(exports.extensions, exports.types)`;
      return { contents: source.replace(line, lazy), loader: 'js' };
    });
  },
};

/** @param {string} name */
const launcher = (name) => `#!/usr/bin/env node
'use strict';
require('./launch.js').launch(__dirname, ${JSON.stringify(name)});
`;

/**
 * The browser files of the API reference (/docs, app/docs/docs-routes.ts): Swagger UI's prebuilt bundle and
 * stylesheet, gzipped (1.8 MiB become 0.5 MiB), with the bundle's license notes, in dist/docs, which the image
 * ships. The app sends them from disk when asked; nothing of the package is loaded at start. The stylesheet's
 * source-map comment goes: the map is not shipped.
 */
function copyDocsAssets() {
  const from = path.join(root, 'node_modules', 'swagger-ui-dist');
  const to = path.join(root, 'dist', 'docs');
  fs.rmSync(to, { recursive: true, force: true });
  fs.mkdirSync(to, { recursive: true });
  fs.copyFileSync(
    path.join(from, 'swagger-ui-bundle.js.LICENSE.txt'),
    path.join(to, 'swagger-ui-bundle.js.LICENSE.txt'),
  );
  for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css']) {
    const text = fs.readFileSync(path.join(from, file), 'utf8');
    const stripped = text.replace(/\n?\/\*# sourceMappingURL=[^*]*\*\/\s*$/, '\n');
    fs.writeFileSync(path.join(to, `${file}.gz`), gzipSync(stripped, { level: 9 }));
  }
  const bytes = fs.readdirSync(to).reduce((n, f) => n + fs.statSync(path.join(to, f)).size, 0);
  process.stdout.write(
    `copied the API reference's files to dist/docs: ${(bytes / 1024 / 1024).toFixed(1)} MiB\n`,
  );
}

fs.rmSync(outDir, { recursive: true, force: true });
fs.mkdirSync(outDir, { recursive: true });
copyDocsAssets();
fs.copyFileSync(path.join(root, 'scripts', 'build', 'launch.js'), path.join(outDir, 'launch.js'));

// The tokenizer's worker thread (app/api/usage/token-counter.ts) in a file of its own: its 2.4 MB of ranks stay out
// of modelgate-app's bundle, so a start never reads or compiles them; the thread loads it on the first estimate.
await build({
  absWorkingDir: root,
  entryPoints: ['app/api/usage/tokenizer-worker.ts'],
  outfile: path.join(outDir, 'modelgate-tokenizer.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'linked',
  logLevel: 'warning',
});

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
    // A map beside the bundle (not referenced from it, not in the image): it turns a --cpu-prof profile or a stack
    // trace of the bundle back into source files and packages (bench/lib/cpuprofile.mjs).
    sourcemap: 'external',
    external: notBundled,
    plugins: [axiosWithoutWebGlobals, mimeMapsOnFirstRead],
    logLevel: 'warning',
  });
  // launch.js reads the bundle as latin1, which is only the same text for ASCII.
  const nonAscii = fs.readFileSync(bundle).findIndex((byte) => byte > 0x7f);
  if (nonAscii >= 0)
    throw new Error(
      `${path.relative(root, bundle)} holds a non-ASCII byte at offset ${nonAscii}; launch.js reads bundles as latin1, so keep esbuild's charset at ascii`,
    );
  const bin = path.join(outDir, `${name}.js`);
  fs.writeFileSync(bin, launcher(name), { mode: 0o755 });
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelgate-build-'));
  try {
    await train(bin, scratch);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const size = (/** @type {string} */ file) => `${(fs.statSync(file).size / 1024 / 1024).toFixed(1)} MiB`;
  process.stdout.write(
    `bundled ${name}: ${path.relative(root, bundle)} ${size(bundle)}, code cache ${size(bundle.replace(/\.js$/, '.cache'))}\n`,
  );
}

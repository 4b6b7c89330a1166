#!/usr/bin/env node
// @ts-check
// Run by the Dockerfile's build stage: the license texts of the production dependencies, in one file. The image
// ships no node_modules (the bundles in dist/bin hold the code), and esbuild's *.LEGAL.txt keeps only the comments
// marked as legal, so without this file the licenses that ask to travel with the code (MIT, ISC, BSD, Apache-2.0)
// would not. It covers every production package of the lockfile (a superset of what the bundles contain) and any
// other package a bundle names as a CommonJS module (esbuild bundles an optional require() of a package that only
// a dev dependency installed).
//
// Usage: node scripts/image/third-party-notices.mjs <out-file>   (from the repository root, after npm run build)
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * The lockfile keys (node_modules/a/node_modules/b) of the packages whose CommonJS modules a bundle holds: esbuild
 * names each such module by its path. ES modules carry no such name, so this set is not complete.
 * @param {string[]} bundles bundle sources
 */
export function bundledPackages(bundles) {
  const found = new Set();
  for (const source of bundles)
    for (const match of source.matchAll(/"((?:node_modules\/(?:@[\w.-]+\/)?[\w.-]+\/)+)[^"]*"\(/g))
      found.add(/** @type {string} */ (match[1]).slice(0, -1));
  return found;
}

/** @param {string | undefined} out */
function main(out) {
  if (!out) {
    console.error('usage: node scripts/image/third-party-notices.mjs <out-file>');
    process.exit(2);
  }
  const lock = JSON.parse(fs.readFileSync('package-lock.json', 'utf8'));
  const bundled = bundledPackages(
    fs
      .readdirSync('dist/bin')
      .filter((file) => file.endsWith('.bundle.js'))
      .map((file) => fs.readFileSync(path.join('dist/bin', file), 'utf8')),
  );
  /** @type {[string, { dev?: boolean, version?: string, license?: string }][]} */
  const production = Object.entries(lock.packages).filter(
    ([key, meta]) => key.startsWith('node_modules/') && (!meta.dev || bundled.has(key)) && fs.existsSync(key),
  );
  const licenseFile = /^(licen[cs]e|copying|notice)(\..*)?$/i;
  const sections = production
    .map(([key, meta]) => {
      const name = key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
      const texts = fs
        .readdirSync(key)
        .filter((file) => licenseFile.test(file))
        .sort()
        .map((file) => fs.readFileSync(path.join(key, file), 'utf8').trim());
      const body =
        texts.length > 0 ? texts.join('\n\n') : `(no license file in the package; license: ${meta.license})`;
      return { id: `${name}@${meta.version} (${meta.license ?? 'license not declared'})`, body };
    })
    .sort((a, b) => a.id.localeCompare(b.id));
  const rule = '-'.repeat(80);
  fs.writeFileSync(
    out,
    `dist/bin/*.bundle.js hold code of modelgate's dependencies. The licenses of the ${sections.length} packages they\n` +
      'may contain follow: every production package of the lockfile (the bundles hold a subset of them) and any\n' +
      'other package a bundle names.\n\n' +
      sections.map(({ id, body }) => `${rule}\n${id}\n${rule}\n${body}\n`).join('\n'),
  );
  console.log(`third-party notices: ${sections.length} packages in ${out}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv[2]);

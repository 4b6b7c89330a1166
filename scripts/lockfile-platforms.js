#!/usr/bin/env node
// @ts-check
// The npm mirror on our build machines serves only linux-x64 builds of native packages, so `npm install`
// leaves the other platforms' optional binaries out of package-lock.json and `npm ci` then refuses the lock
// as "out of sync". This adds the missing optional entries with the os/cpu/libc npm needs to skip them
// without a download. Run after changing dependencies: `node scripts/lockfile-platforms.js`.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const lockPath = path.join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
const OS = [
  'darwin',
  'win32',
  'linux',
  'android',
  'freebsd',
  'openharmony',
  'sunos',
  'aix',
  'netbsd',
  'openbsd',
];
const CPU = ['arm64', 'x64', 'ia32', 'ppc64', 's390x', 'riscv64', 'loong64', 'arm', 'wasm32'];

/** @param {string} name */
function platformOf(name) {
  const parts = name.split('/').pop()?.split('-') ?? [];
  const os = parts.find((p) => OS.includes(p));
  const cpu =
    parts.find((p) => CPU.includes(p)) ??
    (parts.includes('gnueabihf') || parts.includes('eabi') ? 'arm' : undefined);
  if (!os || !cpu) return undefined;
  /** @type {{os: string[], cpu: string[], libc?: string[]}} */
  const platform = { os: [os], cpu: [cpu] };
  if (os === 'linux') platform.libc = [parts.some((p) => p.startsWith('musl')) ? 'musl' : 'glibc'];
  return platform;
}

let added = 0;
for (const [location, entry] of Object.entries(lock.packages)) {
  const optional = entry.optionalDependencies ?? {};
  const base = location === '' ? 'node_modules/' : `${location}/node_modules/`;
  for (const [dep, version] of Object.entries(optional)) {
    if (lock.packages[`${base}${dep}`] || lock.packages[`node_modules/${dep}`]) continue;
    const platform = platformOf(dep);
    if (!platform) {
      console.warn(`lockfile-platforms: cannot tell the platform of ${dep}; left out`);
      continue;
    }
    lock.packages[`node_modules/${dep}`] = { version, optional: true, ...platform };
    added += 1;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
fs.writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lockfile-platforms: added ${added} optional platform entries`);

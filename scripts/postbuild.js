#!/usr/bin/env node
// @ts-check
// Makes the two executables in dist/ runnable through package.json's "bin".
'use strict';
const fs = require('node:fs');
const path = require('node:path');

for (const bin of ['dist/app/main.js', 'dist/init/main.js'])
  fs.chmodSync(path.join(__dirname, '..', bin), 0o755);

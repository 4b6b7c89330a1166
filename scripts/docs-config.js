#!/usr/bin/env node
// @ts-check
// Regenerates the README's configuration table from core/config/variables.ts (run `npm run build` first).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { replaceConfigTable } = require(path.join(__dirname, '..', 'dist', 'core', 'config', 'table.js'));

const readme = path.join(__dirname, '..', 'README.md');
fs.writeFileSync(readme, replaceConfigTable(fs.readFileSync(readme, 'utf8')));
console.log('README.md configuration table updated');

#!/usr/bin/env node
// Prints the README's configuration table from CONFIG_VARS (signaling/src/config.ts, built to dist/),
// so the table and the code never drift: `npm run build && node scripts/config-table.js`.
'use strict';
const { CONFIG_VARS } = require('../dist/signaling/src/config.js');
const esc = (s) => s.replace(/\|/g, '\\|');
console.log('| variable | default | what it does |');
console.log('|---|---|---|');
for (const v of CONFIG_VARS) console.log(`| \`${v.name}\` | ${v.default === '' ? '(empty)' : `\`${esc(v.default)}\``} | ${esc(v.description)} |`);

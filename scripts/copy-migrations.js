#!/usr/bin/env node
// tsc compiles only TypeScript: the SQL migrations (signaling/src/store/migrations/*.sql) are copied
// next to the compiled store module, so dist/ (and the Docker image, which holds only dist/) has them.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const from = path.join(root, 'signaling', 'src', 'store', 'migrations');
const to = path.join(root, 'dist', 'signaling', 'src', 'store', 'migrations');
fs.rmSync(to, { recursive: true, force: true });
fs.mkdirSync(to, { recursive: true });
for (const f of fs.readdirSync(from).filter((x) => x.endsWith('.sql'))) fs.copyFileSync(path.join(from, f), path.join(to, f));

#!/usr/bin/env node
// Runs a TypeScript entry point from the source tree in a child process (`node run-ts.js file.ts`)
// or a worker thread (argv [file.ts]), compiled on require by esbuild as the jest transform does:
// tests that must SIGKILL the whole service start it this way, and the engine's media workers
// (kurento/src/media/workers/pool.ts) when it runs from sources, without `npm run build`.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { transformSync } = require('esbuild');

require.extensions['.ts'] = (module, filename) => {
  const out = transformSync(fs.readFileSync(filename, 'utf8'), { loader: 'ts', format: 'cjs', target: 'node20', sourcemap: 'inline', sourcefile: filename });
  module._compile(out.code, filename);
};
const entry = path.resolve(process.argv[2]);
process.argv.splice(1, 2, entry);
// Loaded as the main module, so its `require.main === module` check runs it.
require('node:module')._load(entry, null, true);

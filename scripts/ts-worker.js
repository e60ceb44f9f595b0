// Starts a worker thread from TypeScript sources (tests run the engine from sources; the built
// engine starts dist's .js directly): .ts files are compiled with esbuild as they are required,
// as jest-transform.js does for the test process. argv[2] is the entry file.
'use strict';
const fs = require('node:fs');
const { transformSync } = require('esbuild');

require.extensions['.ts'] = (module, filename) => {
  const out = transformSync(fs.readFileSync(filename, 'utf8'), {
    loader: 'ts', format: 'cjs', target: 'node20', sourcemap: 'inline', sourcefile: filename,
  });
  module._compile(out.code, filename);
};
require(process.argv[2]);

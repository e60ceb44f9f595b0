// Jest transform: TypeScript → CommonJS with esbuild (no type checking; `npm run typecheck` does that).
// esbuild instead of @swc/jest because swc's platform packages are not all on every registry mirror,
// which leaves package-lock.json incomplete and breaks `npm ci`.
'use strict';
const { transformSync } = require('esbuild');
const crypto = require('node:crypto');

module.exports = {
  getCacheKey(source, filename) {
    return crypto.createHash('sha1').update(source).update(filename).update('esbuild-cjs-v1').digest('hex');
  },
  process(source, filename) {
    const out = transformSync(source, {
      loader: filename.endsWith('.ts') ? 'ts' : 'js',
      format: 'cjs',
      target: 'node20',
      sourcemap: 'inline',
      sourcefile: filename,
      // Jest runs CommonJS without --experimental-vm-modules: turn import() into require().
      supported: { 'dynamic-import': false },
    });
    return { code: out.code };
  },
};

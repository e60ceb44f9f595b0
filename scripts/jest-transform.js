// Jest transform: TypeScript → CommonJS with esbuild (no type checking; `npm run typecheck` does that).
// esbuild instead of @swc/jest because swc's platform packages are not all on every registry mirror,
// which leaves package-lock.json incomplete and breaks `npm ci`.
'use strict';
const { transformSync } = require('esbuild');
const crypto = require('node:crypto');

module.exports = {
  getCacheKey(source, filename) {
    return crypto.createHash('sha1').update(source).update(filename).update('esbuild-cjs-v2').digest('hex');
  },
  process(source, filename) {
    if (/[\\/]node_modules[\\/]@electric-sql[\\/]pglite[\\/].+\.cjs$/.test(filename)) return { code: pgliteCjs(source) };
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

/**
 * PGlite's CommonJS build loads Node built-ins with import("x") (jest would need
 * --experimental-vm-modules) and declares its own `var require` in the function that does it, so
 * esbuild's import() → require() would call that undefined local: the module's own require is
 * captured at the top instead.
 */
function pgliteCjs(source) {
  return `const __pgliteImport = (m) => Promise.resolve(require(m));${source.replace(/\bimport\((?=["'])/g, '__pgliteImport(')}`;
}

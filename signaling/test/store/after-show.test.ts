// Recordings, shorts, comments and profiles over the real store, once on embedded PGlite and once
// on a real PostgreSQL 15 server (a private cluster): the same SQL and migrations on both. Shorts
// are cut by the real ffmpeg from a recording ffmpeg made, into a local media directory.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Store, loadMigrations, migrate } from '../../src/store';
import { AfterShow } from '../../src/shorts';
import type { Principal } from '../../src/auth';
import { MemoryState } from '../../src/state';
import { startPostgres, PostgresServer } from '../../../test-support/postgres';
import { KEYFRAME_S, makeRecording, probe, topBoxes } from './fixtures';

const alice: Principal = { id: 'u-alice', name: 'Alice', roles: ['busker'], anonymous: false };
const bob: Principal = { id: 'u-bob', name: 'Bob', roles: [], anonymous: false };
const mod: Principal = { id: 'u-mod', name: 'Mo', roles: ['moderator'], anonymous: false };
const guest: Principal = { id: 'anon-1', name: 'guest-1', roles: [], anonymous: true };

let pg: PostgresServer;
let recordingFile: string;
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'after-show-'));

beforeAll(async () => {
  pg = await startPostgres();
  recordingFile = makeRecording(path.join(tmpRoot, 'source', 'rec.mp4'), 30);
}, 60000);

afterAll(async () => {
  await pg?.stop();
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code ?? String(e));

describe.each(['pglite', 'postgres'] as const)('on %s', (backend) => {
  let dataDir: string;
  let store: Store;
  let a: AfterShow;
  const published: { destination: string; body: unknown }[] = [];
  let recId: string;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(tmpRoot, `${backend}-`));
    store = new Store({
      dataDir, databaseUrl: backend === 'postgres' ? pg.url : '',
      s3: { bucket: '', endpoint: '', region: 'us-east-1', accessKeyId: '', secretAccessKey: '', publicUrl: '' },
    });
    a = new AfterShow({
      store, state: new MemoryState(), publish: (destination, body) => published.push({ destination, body: JSON.parse(body) }),
      ffmpegPath: 'ffmpeg', comments: { maxLength: 50, rate: { count: 3, windowMs: 60000 } },
    });
    await store.db();
    // The recording leg's file lands under DATA_DIR/recordings; here ffmpeg made it.
    fs.mkdirSync(store.recordingsDir, { recursive: true });
    fs.copyFileSync(recordingFile, path.join(store.recordingsDir, 'b1.mp4'));
    const rec = await a.recordings.create({ buskId: 'b1', owner: alice, file: 'b1.mp4', contentType: 'video/mp4', location: { lat: 48.8584, lng: 2.2945 } });
    expect(rec.state).toBe('recording');
    const done = await a.recordings.finish(rec.id);
    expect(done.durationS).toBeCloseTo(30, 0);
    recId = rec.id;
  }, 120000);

  afterAll(async () => { await store?.close(); });

  const mediaFiles = () => ['shorts', 'posters', 'avatars'].flatMap((d) => {
    const p = path.join(dataDir, 'media', d);
    return fs.existsSync(p) ? fs.readdirSync(p).map((f) => `${d}/${f}`) : [];
  });
  const count = async (table: string) => Number((await (await store.db()).query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0].n);

  test('migrations: applied once, recorded in schema_migrations; running them again changes nothing', async () => {
    const db = await store.db();
    const versions = (await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).map((r) => Number(r.version));
    expect(versions).toEqual(loadMigrations().map((m) => m.version));
    expect(await migrate(db)).toEqual([]);
  });

  test('a 20 s short: keyframe-aligned stream copy, finished MP4 (moov before mdat, duration in the header), poster JPEG', async () => {
    const s = await a.shorts.create(alice, { recordingId: recId, startS: 5, endS: 25, title: 'Best minute', hashtags: ['#Jazz', 'paris'] });
    expect(s).toMatchObject({ owner: { id: alice.id, name: 'Alice' }, title: 'Best minute', hashtags: ['jazz', 'paris'], views: 0, comments: 0, location: { lat: 48.8584, lng: 2.2945 } });
    expect(Math.abs(s.durationS - 20)).toBeLessThanOrEqual(KEYFRAME_S);
    const file = path.join(dataDir, 'media', s.videoUrl.replace(/^\/media\//, ''));
    const info = probe(file);
    expect(info.streams.sort()).toEqual(['h264', 'opus']);
    expect(info.fragmented).toBe(false);
    expect(Math.abs(info.durationS - s.durationS)).toBeLessThan(0.1);
    const boxes = topBoxes(file);
    expect(boxes.indexOf('moov')).toBeGreaterThan(-1);
    expect(boxes.indexOf('moov')).toBeLessThan(boxes.indexOf('mdat'));
    const poster = fs.readFileSync(path.join(dataDir, 'media', s.posterUrl.replace(/^\/media\//, '')));
    expect([...poster.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    expect(await a.shorts.get(s.id)).toEqual(s);
  }, 60000);

  test('a live clip of a running recording ends where its writer has got, or at the file\'s end without one', async () => {
    fs.copyFileSync(recordingFile, path.join(store.recordingsDir, 'live.mp4'));
    const live = await a.recordings.create({ buskId: 'b-live', owner: alice, file: 'live.mp4', contentType: 'video/mp4' });
    // The writer says 11 s: the last 10 s start at 1 s, so at the keyframe at 0 → an 11 s short.
    const stop = a.recordings.writtenBy(live.id, () => 11);
    const early = await a.shorts.create(alice, { recordingId: live.id, lastS: 10, title: 'So far' });
    expect(early.durationS).toBeCloseTo(11, 0);
    // Gone (the recording ended elsewhere or this process restarted): the file's 30 s → 20..30 s.
    stop();
    const late = await a.shorts.create(alice, { recordingId: live.id, lastS: 10, title: 'From the file' });
    expect(late.durationS).toBeCloseTo(10, 0);
    for (const s of [early, late]) await a.shorts.delete(alice, s.id);
  }, 60000);

  test('bad clips are refused with a clear code and leave no row and no file', async () => {
    const rows = await count('shorts');
    const files = mediaFiles();
    const base = { recordingId: recId, title: 't' };
    expect(await code(a.shorts.create(alice, { ...base, startS: 0, endS: 61 }))).toBe('bad-request');
    expect(await code(a.shorts.create(alice, { ...base, startS: 20, endS: 40 }))).toBe('bad-request'); // past the end (30 s)
    expect(await code(a.shorts.create(alice, { ...base, startS: -1, endS: 5 }))).toBe('bad-request');
    expect(await code(a.shorts.create(alice, { ...base, startS: 5, endS: 5 }))).toBe('bad-request');
    expect(await code(a.shorts.create(alice, { ...base, startS: '1', endS: 5 }))).toBe('bad-request');
    expect(await code(a.shorts.create(alice, { ...base, title: '' , startS: 1, endS: 5 }))).toBe('bad-request');
    expect(await code(a.shorts.create(bob, { ...base, startS: 1, endS: 5 }))).toBe('forbidden');
    expect(await code(a.shorts.create(alice, { ...base, recordingId: 'nope', startS: 1, endS: 5 }))).toBe('not-found');
    expect(await code(a.shorts.create(guest, { ...base, startS: 1, endS: 5 }))).toBe('unauthorized');
    expect(await code(a.shorts.create(null, { ...base, startS: 1, endS: 5 }))).toBe('unauthorized');
    // ffmpeg itself fails (the file is not a video): nothing is left either.
    fs.writeFileSync(path.join(store.recordingsDir, 'broken.mp4'), 'not a video');
    const broken = await a.recordings.create({ buskId: 'b2', owner: alice, file: 'broken.mp4', contentType: 'video/mp4' });
    expect(await code(a.shorts.create(alice, { ...base, recordingId: broken.id, startS: 1, endS: 5 }))).toBe('unavailable');
    expect(await count('shorts')).toBe(rows);
    expect(mediaFiles()).toEqual(files);
  }, 60000);

  test('feed: newest first with a cursor; by tag, by busker, near a place', async () => {
    // Two more shorts by Alice (one tagged), and Bob's recording + short far away.
    const s2 = await a.shorts.create(alice, { recordingId: recId, startS: 0, endS: 4, title: 'two', hashtags: ['jazz'] });
    const s3 = await a.shorts.create(alice, { recordingId: recId, startS: 10, endS: 14, title: 'three' });
    fs.copyFileSync(recordingFile, path.join(store.recordingsDir, 'b3.mp4'));
    const rb = await a.recordings.create({ buskId: 'b3', owner: bob, file: 'b3.mp4', contentType: 'video/mp4', location: { lat: 51.5, lng: -0.12 } });
    const s4 = await a.shorts.create(bob, { recordingId: rb.id, startS: 2, endS: 6, title: 'bob' });

    const p1 = await a.shorts.feed({ before: null, limit: 2 });
    expect(p1.items.map((s) => s.title)).toEqual(['bob', 'three']);
    expect(p1.next).not.toBeNull();
    const p2 = await a.shorts.feed({ before: Number(p1.next), limit: 2 });
    expect(p2.items.map((s) => s.title)).toEqual(['two', 'Best minute']);
    const p3 = await a.shorts.feed({ before: Number(p2.next), limit: 2 });
    expect(p3).toEqual({ items: [], next: null });

    expect((await a.shorts.feed({ before: null, limit: 20, tag: 'jazz' })).items.map((s) => s.id)).toEqual([s2.id, expect.any(String)]);
    expect((await a.shorts.feed({ before: null, limit: 1, tag: 'jazz' })).items.map((s) => s.id)).toEqual([s2.id]);
    expect((await a.shorts.feed({ before: null, limit: 20, by: bob.id })).items.map((s) => s.id)).toEqual([s4.id]);
    const paris = await a.shorts.feed({ before: null, limit: 20, near: { lat: 48.86, lng: 2.29, radiusM: 2000 } });
    expect(paris.items.map((s) => s.owner.id)).toEqual([alice.id, alice.id, alice.id]);
    expect(paris.items[0].id).toBe(s3.id);
    expect((await a.shorts.feed({ before: null, limit: 20, near: { lat: 51.5, lng: -0.12, radiusM: 1000 } })).items.map((s) => s.id)).toEqual([s4.id]);
  }, 120000);

  test('comments: signed-in only, limits, pagination, live messages, who may delete', async () => {
    const s = (await a.shorts.feed({ before: null, limit: 1, by: alice.id })).items[0];
    published.length = 0;
    expect(await code(a.comments.add(guest, s.id, { text: 'hi' }))).toBe('unauthorized');
    expect(await code(a.comments.add(bob, s.id, { text: 'x'.repeat(51) }))).toBe('bad-request');
    expect(await code(a.comments.add(bob, s.id, { text: '  ' }))).toBe('bad-request');
    expect(await code(a.comments.add(bob, 'nope', { text: 'hi' }))).toBe('not-found');
    const c1 = await a.comments.add(bob, s.id, { text: 'one' });
    const c2 = await a.comments.add(bob, s.id, { text: 'two' });
    const c3 = await a.comments.add(bob, s.id, { text: '<b>three</b>' });
    // The fourth within the window (3 per minute here) is refused and stores nothing.
    expect(await code(a.comments.add(bob, s.id, { text: 'four' }))).toBe('rate-limited');
    const c4 = await a.comments.add(mod, s.id, { text: 'mod here' });
    expect(c1).toMatchObject({ from: { id: bob.id, name: 'Bob' }, text: 'one' });
    expect(published.map((m) => m.destination)).toEqual(Array(4).fill(`/topic/short.${s.id}.comments`));
    expect(published[0].body).toEqual({ type: 'comment', comment: c1 });

    const page1 = await a.comments.list(s.id, { before: null, limit: 3 });
    expect(page1.items.map((c) => c.text)).toEqual(['mod here', '<b>three</b>', 'two']);
    const page2 = await a.comments.list(s.id, { before: Number(page1.next), limit: 3 });
    expect(page2).toEqual({ items: [c1], next: null });
    expect((await a.shorts.get(s.id))!.comments).toBe(4);

    // A stranger may not delete; the author, the short's owner and a moderator may.
    const carol: Principal = { id: 'u-carol', name: 'Carol', roles: [], anonymous: false };
    expect(await code(a.comments.delete(carol, c1.id))).toBe('forbidden');
    expect(await code(a.comments.delete(bob, c4.id))).toBe('forbidden');
    expect(await code(a.comments.delete(bob, 'nope'))).toBe('not-found');
    published.length = 0;
    await a.comments.delete(bob, c1.id);
    await a.comments.delete(alice, c2.id);
    await a.comments.delete(mod, c3.id);
    expect(published.map((m) => m.body)).toEqual([{ type: 'deleted', id: c1.id }, { type: 'deleted', id: c2.id }, { type: 'deleted', id: c3.id }]);
    expect((await a.comments.list(s.id, { before: null, limit: 10 })).items.map((c) => c.id)).toEqual([c4.id]);
    expect((await a.shorts.get(s.id))!.comments).toBe(1);
  });

  test('views count; only the owner deletes a short, and then its files, tags and comments are gone', async () => {
    const s = (await a.shorts.feed({ before: null, limit: 1, tag: 'jazz' })).items[0];
    expect(await a.shorts.view(s.id)).toBe(1);
    expect(await a.shorts.view(s.id)).toBe(2);
    expect(await code(a.shorts.view('nope'))).toBe('not-found');
    await a.comments.add(alice, s.id, { text: 'mine' });
    expect(await code(a.shorts.delete(bob, s.id))).toBe('forbidden');
    expect(await code(a.shorts.delete(alice, 'nope'))).toBe('not-found');
    const before = mediaFiles();
    await a.shorts.delete(alice, s.id);
    expect(await a.shorts.get(s.id)).toBeNull();
    expect(mediaFiles().sort()).toEqual(before.filter((f) => !f.includes(s.id)).sort());
    expect(before.filter((f) => f.includes(s.id))).toHaveLength(2);
    const db = await store.db();
    expect(await db.query('SELECT 1 FROM comments WHERE short_id = $1', [s.id])).toEqual([]);
    expect(await db.query('SELECT 1 FROM short_tags WHERE short_id = $1', [s.id])).toEqual([]);
    expect(await code(a.comments.list(s.id, { before: null, limit: 5 }))).toBe('not-found');
  }, 60000);

  test('profiles: name, bio, https tip link; avatar type by content; a bad update changes nothing', async () => {
    const p = await a.profiles.update(alice, { name: 'Alice B', bio: 'Songs', tipUrl: 'https://tips.example/alice' });
    expect(p).toMatchObject({ id: alice.id, name: 'Alice B', bio: 'Songs', tipUrl: 'https://tips.example/alice', live: null, avatarUrl: null });
    expect(p.shorts).toBeGreaterThan(0);
    expect(await code(a.profiles.update(alice, { bio: 'new', tipUrl: 'http://tips.example/alice' }))).toBe('bad-request');
    expect(await code(a.profiles.update(alice, { bio: 'new', tipUrl: 'javascript:alert(1)' }))).toBe('bad-request');
    expect(await code(a.profiles.update(alice, { name: '' }))).toBe('bad-request');
    expect(await code(a.profiles.update(guest, { name: 'x' }))).toBe('unauthorized');
    expect((await a.profiles.get(alice.id)).bio).toBe('Songs');
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(100)]);
    const withAvatar = await a.profiles.setAvatar(alice, png);
    expect(withAvatar.avatarUrl).toMatch(/^\/media\/avatars\/[\w-]+\.png$/);
    expect(await code(a.profiles.setAvatar(alice, Buffer.from('GIF89a....')))).toBe('bad-request');
    expect(await code(a.profiles.setAvatar(alice, Buffer.alloc(2 * 1024 * 1024 + 1, 0xff)))).toBe('too-large');
    const webp = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WEBP'), Buffer.alloc(50)]);
    const replaced = await a.profiles.setAvatar(alice, webp);
    // The old avatar file is removed with the switch.
    expect(mediaFiles().filter((f) => f.startsWith('avatars/'))).toEqual([replaced.avatarUrl!.replace('/media/', '')]);
    // Renaming shows on the user's shorts too.
    expect((await a.shorts.feed({ before: null, limit: 1, by: alice.id })).items[0].owner.name).toBe('Alice B');
    expect(await code(a.profiles.get('nobody'))).toBe('not-found');
    expect((await a.recordings.mine(alice)).map((r) => r.buskId).sort()).toEqual(['b-live', 'b1', 'b2']);
  });
});

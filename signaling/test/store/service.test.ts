// The whole service on a DATA_DIR (embedded PGlite, local media): the REST of "After the show"
// over HTTP with real tokens, range requests on the short's video, live comment messages through
// the STOMP broker, error statuses that change nothing, and a restart that keeps everything.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import type { Service } from '../../src/service';
import { TEST_SECRET, connect, devToken, startTestService } from '../support/service';
import { KEYFRAME_S, makeRecording } from './fixtures';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'service-store-'));
let svc: Service | null = null;

afterAll(async () => {
  await svc?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function start(): Promise<Service> {
  const s = await startTestService({ DATA_DIR: dataDir, COMMENT_RATE: '20/60s', COMMENT_MAX_LENGTH: '200' });
  await s.store.db();
  return s;
}

function token(sub: string, name: string, roles: string[]): string {
  return jwt.sign({ sub, name, roles }, TEST_SECRET, { algorithm: 'HS256', expiresIn: 3600 });
}

async function api(method: string, p: string, opts: { token?: string; json?: unknown; body?: Buffer; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: Buffer | string | undefined = opts.body;
  if (opts.json !== undefined) { headers['content-type'] = 'application/json'; body = JSON.stringify(opts.json); }
  const res = await fetch(`${svc!.url}${p}`, { method, headers, body });
  const text = await res.text();
  let json: any = null; // eslint-disable-line @typescript-eslint/no-explicit-any
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: res.status, json, headers: res.headers };
}

test('recordings, shorts with range playback, live comments, profiles, errors; all there after a restart', async () => {
  svc = await start();
  const alice = token('alice', 'Alice', ['busker']);
  const bob = token('bob', 'Bob', []);
  const mod = token('mo', 'Mo', ['moderator']);

  // The recording leg's file (made by ffmpeg here) registered as Alice's recording.
  makeRecording(path.join(svc.store.recordingsDir, 'b1.mp4'), 30);
  const rec = await svc.afterShow.recordings.create({ buskId: 'b1', owner: { id: 'alice', name: 'Alice', roles: ['busker'], anonymous: false }, file: 'b1.mp4', contentType: 'video/mp4' });
  await svc.afterShow.recordings.finish(rec.id);

  expect((await api('GET', '/api/recordings?mine=1')).status).toBe(401);
  const mine = await api('GET', '/api/recordings?mine=1', { token: alice });
  expect(mine.status).toBe(200);
  expect(mine.json).toEqual([expect.objectContaining({ id: rec.id, buskId: 'b1', state: 'ready', owner: { id: 'alice', name: 'Alice' } })]);
  expect((await api('GET', '/api/recordings?mine=1', { token: bob })).json).toEqual([]);
  const recVideo = await fetch(`${svc.url}${mine.json[0].videoUrl}`, { headers: { range: 'bytes=0-99' } });
  expect(recVideo.status).toBe(206);
  expect((await recVideo.arrayBuffer()).byteLength).toBe(100);

  // Refusals: status and code, nothing created.
  const bad = async (tok: string | undefined, body: unknown, status: number, code: string) => {
    const r = await api('POST', '/api/shorts', { token: tok, json: body });
    expect([r.status, r.json?.code]).toEqual([status, code]);
    expect(typeof r.json.message).toBe('string');
  };
  await bad(undefined, { recordingId: rec.id, startS: 0, endS: 10, title: 'x' }, 401, 'unauthorized');
  await bad(bob, { recordingId: rec.id, startS: 0, endS: 10, title: 'x' }, 403, 'forbidden');
  await bad(alice, { recordingId: 'nope', startS: 0, endS: 10, title: 'x' }, 404, 'not-found');
  await bad(alice, { recordingId: rec.id, startS: 0, endS: 61, title: 'x' }, 400, 'bad-request');
  await bad(alice, { recordingId: rec.id, startS: 25, endS: 35, title: 'x' }, 400, 'bad-request');
  expect((await api('GET', '/api/shorts')).json).toEqual({ items: [], next: null });

  // A 20 s short.
  const made = await api('POST', '/api/shorts', { token: alice, json: { recordingId: rec.id, startS: 4, endS: 24, title: 'Encore', hashtags: ['folk'] } });
  expect(made.status).toBe(201);
  const short = made.json;
  expect(Math.abs(short.durationS - 20)).toBeLessThanOrEqual(KEYFRAME_S);
  expect(await api('GET', `/api/shorts/${short.id}`)).toMatchObject({ status: 200, json: short });
  expect((await api('GET', '/api/shorts?tag=folk')).json.items.map((s: { id: string }) => s.id)).toEqual([short.id]);
  expect((await api('GET', '/api/shorts?by=alice')).json.items).toHaveLength(1);
  expect((await api('GET', '/api/shorts?tag=folk&by=alice')).status).toBe(400);
  expect((await api('GET', '/api/shorts?before=abc')).status).toBe(400);
  expect((await api('GET', '/api/shorts/nope')).status).toBe(404);

  // Range requests on the video, the whole file from byte 0, the poster.
  const head = await fetch(`${svc.url}${short.videoUrl}`);
  const whole = Buffer.from(await head.arrayBuffer());
  expect(head.headers.get('accept-ranges')).toBe('bytes');
  const part = await fetch(`${svc.url}${short.videoUrl}`, { headers: { range: 'bytes=1000-1999' } });
  expect(part.status).toBe(206);
  expect(part.headers.get('content-range')).toBe(`bytes 1000-1999/${whole.length}`);
  expect(Buffer.from(await part.arrayBuffer())).toEqual(whole.subarray(1000, 2000));
  const poster = await fetch(`${svc.url}${short.posterUrl}`);
  expect([poster.status, [...Buffer.from(await poster.arrayBuffer()).subarray(0, 2)]]).toEqual([200, [0xff, 0xd8]]);
  expect((await api('POST', `/api/shorts/${short.id}/views`)).json).toEqual({ views: 1 });

  // Comments: live for a viewer subscribed on the broker (anonymous viewers may watch).
  const viewer = await connect(svc);
  const live = await viewer.subscribeSync(`/topic/short.${short.id}.comments`);
  expect((await api('POST', `/api/shorts/${short.id}/comments`, { json: { text: 'hi' } })).status).toBe(401);
  expect((await api('POST', `/api/shorts/${short.id}/comments`, { token: bob, json: { text: 'x'.repeat(201) } })).json.code).toBe('bad-request');
  const c1 = (await api('POST', `/api/shorts/${short.id}/comments`, { token: bob, json: { text: 'Lovely' } })).json;
  const c2 = (await api('POST', `/api/shorts/${short.id}/comments`, { token: bob, json: { text: 'Again!' } })).json;
  expect((await live.next((m) => m.body?.comment?.id === c1.id)).body).toEqual({ type: 'comment', comment: c1 });
  await live.next((m) => m.body?.comment?.id === c2.id);
  expect((await api('DELETE', `/api/comments/${c1.id}`, { token: alice })).status).toBe(204); // the short's owner
  expect((await live.next((m) => m.body?.type === 'deleted')).body).toEqual({ type: 'deleted', id: c1.id });
  const c3 = (await api('POST', `/api/shorts/${short.id}/comments`, { token: alice, json: { text: 'Thanks' } })).json;
  expect((await api('DELETE', `/api/comments/${c3.id}`, { token: bob })).json.code).toBe('forbidden');
  const c4 = (await api('POST', `/api/shorts/${short.id}/comments`, { token: alice, json: { text: 'spam' } })).json;
  expect((await api('DELETE', `/api/comments/${c4.id}`, { token: mod })).status).toBe(204);
  const page = (await api('GET', `/api/shorts/${short.id}/comments?limit=1`)).json;
  expect(page.items.map((c: { id: string }) => c.id)).toEqual([c3.id]);
  expect((await api('GET', `/api/shorts/${short.id}/comments?before=${page.next}`)).json).toEqual({ items: [c2], next: null });
  await viewer.close();

  // Profile: text fields, https tip link only, avatar by content, size limit.
  expect((await api('PUT', '/api/me/profile', { json: { bio: 'x' } })).status).toBe(401);
  expect((await api('PUT', '/api/me/profile', { token: alice, json: { tipUrl: 'http://pay.example/a' } })).json.code).toBe('bad-request');
  const prof = await api('PUT', '/api/me/profile', { token: alice, json: { name: 'Alice Q', bio: 'Folk at the bridge', tipUrl: 'https://pay.example/a' } });
  expect(prof.json).toMatchObject({ id: 'alice', name: 'Alice Q', bio: 'Folk at the bridge', tipUrl: 'https://pay.example/a', live: null, shorts: 1 });
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(200, 1)]);
  const notImage = await api('PUT', '/api/me/avatar', { token: alice, body: Buffer.from('<svg onload=alert(1)>'), headers: { 'content-type': 'image/png' } });
  expect([notImage.status, notImage.json.code]).toEqual([400, 'bad-request']);
  const huge = await api('PUT', '/api/me/avatar', { token: alice, body: Buffer.concat([png, Buffer.alloc(2 * 1024 * 1024)]), headers: { 'content-type': 'image/png' } });
  expect([huge.status, huge.json.code]).toEqual([413, 'too-large']);
  expect((await api('GET', '/api/users/alice')).json.avatarUrl).toBeNull();
  const av = await api('PUT', '/api/me/avatar', { token: alice, body: png, headers: { 'content-type': 'application/octet-stream' } });
  expect(av.json.avatarUrl).toMatch(/\.png$/);
  expect((await api('GET', '/api/users/nobody')).status).toBe(404);

  // Restart on the same DATA_DIR: everything is still there.
  await svc.close();
  svc = await start();
  expect((await api('GET', `/api/shorts/${short.id}`)).json).toMatchObject({ id: short.id, title: 'Encore', views: 1, comments: 2, owner: { id: 'alice', name: 'Alice Q' } });
  expect((await api('GET', `/api/shorts/${short.id}/comments`)).json.items.map((c: { text: string }) => c.text)).toEqual(['Thanks', 'Again!']);
  expect((await api('GET', '/api/users/alice')).json).toMatchObject({ name: 'Alice Q', tipUrl: 'https://pay.example/a', avatarUrl: av.json.avatarUrl, shorts: 1 });
  expect((await fetch(`${svc.url}${short.videoUrl}`, { headers: { range: 'bytes=0-7' } })).status).toBe(206);

  // Deleting the short: owner only; its files are gone.
  expect((await api('DELETE', `/api/shorts/${short.id}`, { token: bob })).status).toBe(403);
  expect((await api('DELETE', `/api/shorts/${short.id}`, { token: alice })).status).toBe(204);
  expect((await fetch(`${svc.url}${short.videoUrl}`)).status).toBe(404);
  expect(fs.readdirSync(path.join(dataDir, 'media', 'shorts'))).toEqual([]);
  expect(fs.readdirSync(path.join(dataDir, 'media', 'posters'))).toEqual([]);
  expect((await api('GET', `/api/shorts/${short.id}/comments`)).status).toBe(404);
}, 120000);

test('a live busker\'s profile carries the busk (Watch, Directions)', async () => {
  const s = svc!;
  const t = await devToken(s, 'Live Larry', ['busker']);
  const c = await connect(s, t);
  const started = c.subscribe('/user/queue/busk');
  c.send('/app/busk.start', { title: 'Live now', location: { lat: 48.85, lng: 2.35 } });
  const { buskId } = (await started.next()).body;
  const sub = (jwt.decode(t) as { sub: string }).sub;
  const p = await api('GET', `/api/users/${encodeURIComponent(sub)}`);
  expect(p.status).toBe(200);
  expect(p.json).toMatchObject({ id: sub, name: 'Live Larry', live: { id: buskId, title: 'Live now', location: { lat: 48.85, lng: 2.35 } }, shorts: 0 });
  await c.close();
});

// The S3 media store against a real S3-compatible server (s3rver in its own process, over HTTP),
// through the real @aws-sdk/client-s3: bucket creation, put/exists/delete, and the service's /media
// proxy answering range requests; then a short cut by the service into the bucket and deleted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { S3MediaStore } from '../../src/store';
import type { Service } from '../../src/service';
import { TEST_SECRET, startTestService } from '../support/service';
import { startS3rver, S3Server } from '../../../test-support/s3rver';
import { makeRecording } from './fixtures';

let s3: S3Server;
let svc: Service | null = null;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 's3-store-'));

beforeAll(async () => { s3 = await startS3rver(); }, 30000);
afterAll(async () => {
  await svc?.close();
  await s3?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const s3Env = () => ({ S3_BUCKET: 'busking-media', S3_ENDPOINT: s3.endpoint, S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey });

test('S3MediaStore: creates its bucket, stores, reports and deletes objects; public URLs when configured', async () => {
  const store = new S3MediaStore({ bucket: 'unit-bucket', endpoint: s3.endpoint, region: 'us-east-1', accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, publicUrl: 'https://cdn.example/m/' });
  await store.init();
  await store.init(); // an existing bucket is fine
  expect(await store.exists('posters/a.jpg')).toBe(false);
  await store.putBuffer('posters/a.jpg', Buffer.from([0xff, 0xd8, 0xff, 1, 2, 3]), 'image/jpeg');
  const f = path.join(dataDir, 'x.bin');
  fs.writeFileSync(f, Buffer.alloc(5000, 7));
  await store.putFile('shorts/b.mp4', f, 'video/mp4');
  expect(await store.exists('posters/a.jpg')).toBe(true);
  expect(await store.exists('shorts/b.mp4')).toBe(true);
  expect(store.url('shorts/b.mp4')).toBe('https://cdn.example/m/shorts/b.mp4');
  await store.delete('shorts/b.mp4');
  await store.delete('shorts/b.mp4'); // idempotent
  expect(await store.exists('shorts/b.mp4')).toBe(false);
  expect(() => store.url('../etc/passwd')).toThrow();
});

test('the service with S3_BUCKET: a short goes into the bucket, /media proxies it with ranges, delete removes the objects', async () => {
  svc = await startTestService({ DATA_DIR: dataDir, ...s3Env() });
  await svc.store.db();
  makeRecording(path.join(svc.store.recordingsDir, 'r.mp4'), 12);
  const owner = { id: 'sue', name: 'Sue', roles: ['busker'], anonymous: false };
  const rec = await svc.afterShow.recordings.create({ buskId: 'bx', owner, file: 'r.mp4', contentType: 'video/mp4' });
  const tok = jwt.sign({ sub: 'sue', name: 'Sue', roles: ['busker'] }, TEST_SECRET, { algorithm: 'HS256', expiresIn: 600 });
  const res = await fetch(`${svc.url}/api/shorts`, {
    method: 'POST', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' },
    body: JSON.stringify({ recordingId: rec.id, startS: 2, endS: 8, title: 'In the bucket' }),
  });
  expect(res.status).toBe(201);
  const short = (await res.json()) as { id: string; videoUrl: string };
  expect(short.videoUrl).toBe(`/media/shorts/${short.id}.mp4`);
  // Nothing in the local media directory: the files are objects in the bucket.
  expect(fs.existsSync(path.join(dataDir, 'media', 'shorts'))).toBe(false);
  const media = svc.store.media;
  expect(await media.exists(`shorts/${short.id}.mp4`)).toBe(true);
  expect(await media.exists(`posters/${short.id}.jpg`)).toBe(true);

  const whole = await fetch(`${svc.url}${short.videoUrl}`);
  expect(whole.status).toBe(200);
  expect(whole.headers.get('content-type')).toBe('video/mp4');
  const bytes = Buffer.from(await whole.arrayBuffer());
  const part = await fetch(`${svc.url}${short.videoUrl}`, { headers: { range: 'bytes=100-199' } });
  expect(part.status).toBe(206);
  expect(part.headers.get('content-range')).toBe(`bytes 100-199/${bytes.length}`);
  expect(Buffer.from(await part.arrayBuffer())).toEqual(bytes.subarray(100, 200));
  expect((await fetch(`${svc.url}/media/shorts/missing.mp4`)).status).toBe(404);

  const del = await fetch(`${svc.url}/api/shorts/${short.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${tok}` } });
  expect(del.status).toBe(204);
  expect(await media.exists(`shorts/${short.id}.mp4`)).toBe(false);
  expect(await media.exists(`posters/${short.id}.jpg`)).toBe(false);
}, 120000);

// After the show, the whole chain in real browsers (Debian's Chromium, fake camera) against the real
// service on a DATA_DIR: a busker goes live with "Record this show" (the studio then offers H.264,
// so the recording is fragmented MP4) → ends the show → cuts a 20 s short in "My recordings" → a
// fan's phone plays it (duration from the file's header: 20 s and at most one keyframe interval
// more, frames advance, a view counted) → the fan's comments appear live for a third viewer → the
// short's owner deletes one → the service restarts on the same DATA_DIR → the short, the other
// comment and the profile are still there.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import type { Service } from '../../signaling/src/service';
import { waitFor } from '../../test-support/ports';
import { devToken, ensureBuilt, goLive, signInStudio, startWebService, WebTest } from './support';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'web-shorts-'));
let svc: Service;
let web: WebTest;

beforeAll(async () => {
  await ensureBuilt();
  svc = await startWebService({ DATA_DIR: dataDir });
  await svc.store.db();
  web = await WebTest.start(svc);
}, 120000);

afterAll(async () => {
  await web?.close();
  await svc?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const signIn = (token: string) => async (page: Page) => { await page.addInitScript((t) => { localStorage.setItem('busking.token', t); localStorage.setItem('busking.token.source', 'dev'); }, token) };

/** When a file's video keyframes come, as decoded (ffprobe). */
function keyframeTimes(file: string): number[] {
  const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-skip_frame', 'nokey', '-show_entries', 'frame=pts_time', '-of', 'csv=p=0', file], { encoding: 'utf8' });
  return out.split('\n').map(Number).filter(Number.isFinite);
}
/** The longest gap between two keyframes: how early a cut may start. */
function longestGap(at: number[]): number {
  return Math.max(...at.slice(1).map((t, i) => t - at[i]!));
}
/** Where the file's first seconds of video and audio sit, and which video packets the container marks as sync samples (what a seek uses). */
function startLayout(file: string): string {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,start_time,duration:packet=stream_index,pts_time,flags', '-read_intervals', '%+6', '-of', 'csv=p=0', file], { encoding: 'utf8' });
  const lines = out.split('\n').filter(Boolean);
  const streams = lines.filter((l) => /^(video|audio),/.test(l)).join('; ');
  const sync = lines.filter((l) => /^0,[^,]*,K/.test(l)).map((l) => l.split(',')[1]).join(' ');
  return `streams: ${streams}; video sync samples in the first 6 s: ${sync}`;
}

/** The short's video in a shorts page: metadata read, its duration, then frames that advance. */
async function playsShort(page: Page, id: string): Promise<number> {
  const video = page.locator(`article[data-id="${id}"] video`);
  await video.waitFor();
  await waitFor(() => video.evaluate((v) => (v as HTMLVideoElement).readyState >= 1), 15000, 'metadata');
  const duration = await video.evaluate((v) => (v as HTMLVideoElement).duration);
  await video.evaluate((v) => { (v as HTMLVideoElement).muted = true; return (v as HTMLVideoElement).play(); });
  const frames = () => video.evaluate((v) => (v as HTMLVideoElement).getVideoPlaybackQuality().totalVideoFrames);
  const f0 = await frames();
  await waitFor(async () => (await frames()) > f0 + 10, 15000, 'frames to advance');
  return duration;
}

test('live with recording → a 20 s short → played on a phone → live comments → owner deletes one → all there after a restart', async () => {
  // The busker goes live, recorded.
  const studioCtx = await web.context();
  const studio = await web.open(studioCtx, '/studio.html');
  await signInStudio(studio, 'Rosa');
  const buskId = await goLive(studio, { title: 'Cello at dusk', hashtags: 'cello', record: true });
  await waitFor(() => (svc.busks.recording(buskId)?.seconds ?? 0) >= 26, 60000, '26 s recorded');
  const { id: recordingId, file: recordingFile } = svc.busks.recording(buskId)!;
  expect(path.extname(recordingFile)).toBe('.mp4'); // H.264 offered first, so no WebM
  await studio.getByRole('button', { name: 'End show' }).click();
  await waitFor(async () => (await studio.textContent('#busk-state'))?.startsWith('Show ended'), 10000, 'ended');
  await waitFor(async () => (await svc.afterShow.recordings.row(recordingId))?.state === 'ready', 20000, 'recording ready');
  const keyframes = keyframeTimes(recordingFile);
  const keyframeGap = longestGap(keyframes);
  expect(keyframeGap).toBeLessThan(5); // the leg asks for a keyframe when 2 s went by without one

  // "My recordings": 3 s to 23 s becomes a short.
  await studio.getByRole('button', { name: 'Refresh' }).click();
  const item = studio.locator('#recordings-list li').first();
  await item.locator('video.rec-player').waitFor({ timeout: 10000 });
  await item.getByLabel('Start (s)').fill('3');
  await item.getByLabel('End (s)').fill('23');
  await item.getByLabel('Title of the short').fill('Twenty at dusk');
  await item.getByLabel('Hashtags of the short').fill('cello dusk');
  await item.getByRole('button', { name: 'Publish short' }).click();
  await waitFor(async () => (await studio.locator('#clip-status a').count()) > 0, 30000, 'the short published', 250)
    .catch(async (e) => { throw new Error(`${e.message}; studio says: ${await studio.textContent('#clip-status')}`); });
  const shortId = new URL(await studio.getAttribute('#clip-status a', 'href') ?? '', svc.url).searchParams.get('id')!;
  const short = (await svc.afterShow.shorts.get(shortId))!;
  expect(short).toMatchObject({ title: 'Twenty at dusk', hashtags: ['cello', 'dusk'] });
  expect(short.videoUrl).toMatch(/\.mp4$/);
  // The cut starts at the keyframe at or before 3 s: 20 s, and at most one keyframe interval more.
  expect(short.durationS).toBeGreaterThanOrEqual(19.9);
  if (short.durationS > 20 + keyframeGap + 0.1) {
    // Say why (seen once in CI: 23.05 s with keyframes 2.1 s apart): the recording's start as a seek sees it.
    throw new Error(`the short is ${short.durationS} s, more than 20 s + the longest keyframe gap ${keyframeGap} s + 0.1; ` +
      `keyframes (decoded) at ${keyframes.slice(0, 6).join(', ')}; ${startLayout(recordingFile)}`);
  }
  await svc.afterShow.profiles.update({ ...short.owner, roles: ['busker'], anonymous: false }, { bio: 'Cello on the quay', tipUrl: 'https://tips.example/rosa' });

  // A fan's phone plays it: the header's duration, frames advancing, a view counted.
  const fan = await devToken(svc, 'Fan');
  const phone = await web.open(await web.context({ phone: true }), `/shorts.html?id=${shortId}`, signIn(fan));
  expect(Math.abs(await playsShort(phone, shortId) - short.durationS)).toBeLessThan(0.2);
  await waitFor(async () => (await svc.afterShow.shorts.get(shortId))!.views >= 1, 10000, 'a view counted');

  // A third viewer has the comments open; the fan writes two.
  const third = await web.open(await web.context(), `/shorts.html?id=${shortId}`);
  await third.locator('.comments-toggle').click();
  await phone.locator('.comments-toggle').click();
  for (const text of ['Bravo!', 'Play the Bach again']) {
    await phone.locator('input[aria-label="Your comment"]').fill(text);
    await phone.locator('button', { hasText: 'Send' }).click();
    await third.locator('.comments li', { hasText: text }).waitFor({ timeout: 15000 });
  }
  expect(await third.locator('.comments-toggle').textContent()).toContain('(2)');

  // The short's owner deletes one of them (her studio's sign-in is in this browser's storage).
  const owner = await web.open(studioCtx, `/shorts.html?id=${shortId}`);
  await owner.locator('.comments-toggle').click();
  await owner.locator('.comments li', { hasText: 'Play the Bach again' }).getByRole('button', { name: 'Delete comment by Fan' }).click();
  await third.locator('.comments li', { hasText: 'Play the Bach again' }).waitFor({ state: 'detached', timeout: 15000 });
  expect(await third.locator('.comments-toggle').textContent()).toContain('(1)');
  for (const p of [studio, phone, third, owner]) expect(web.pageErrors(p)).toEqual([]);

  // The service restarts on the same DATA_DIR: the short plays, one comment, the profile.
  await svc.close();
  svc = await startWebService({ DATA_DIR: dataDir });
  const later = await web.open(await web.context({ phone: true }, svc), `/shorts.html?id=${shortId}`);
  expect(Math.abs(await playsShort(later, shortId) - short.durationS)).toBeLessThan(0.2);
  await later.locator('.comments-toggle').click();
  await later.locator('.comments li', { hasText: 'Bravo!' }).waitFor({ timeout: 15000 });
  expect(await later.locator('.comments li').count()).toBe(1);
  const prof = await web.open(await web.context({ phone: true }, svc), `/u/${encodeURIComponent(short.owner.id)}`);
  await prof.locator('#name', { hasText: 'Rosa' }).waitFor();
  expect(await prof.locator('#bio').textContent()).toBe('Cello on the quay');
  expect(await prof.locator('#tip').getAttribute('href')).toBe('https://tips.example/rosa');
  await prof.locator('#shorts li', { hasText: 'Twenty at dusk' }).waitFor();
  expect(await prof.locator('#live').isHidden()).toBe(true);
  for (const p of [later, prof]) expect(web.pageErrors(p)).toEqual([]);
}, 240000);

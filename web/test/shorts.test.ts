// Shorts and profiles in a real browser (Debian's Chromium) against the real service on a DATA_DIR:
// a 20 s short cut from a recording plays at phone width (duration from the header, frames
// advance), a comment sent from a second browser appears live for the first, and the busker's
// profile shows the tip link and the short.
import path from 'node:path';
import type { Page } from 'playwright-core';
import type { Service } from '../../signaling/src/service';
import { waitFor } from '../../test-support/ports';
import { KEYFRAME_S, makeRecording } from '../../signaling/test/store/fixtures';
import { devToken, serviceOnDataDir } from './support';

const scene = serviceOnDataDir('web-shorts-');

const sub = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sub as string;
const signIn = (token: string) => async (page: Page) => { await page.addInitScript((t) => { localStorage.setItem('busking.token', t); localStorage.setItem('busking.token.source', 'dev'); }, token) };

test('a 20 s short plays at phone width; a comment arrives live; the profile shows it', async () => {
  const { svc, web } = scene;
  const busker = await devToken(svc, 'Ada', ['busker']);
  const ada = { id: sub(busker), name: 'Ada', roles: ['busker'], anonymous: false };
  makeRecording(path.join(svc.store.recordingsDir, 'show.mp4'), 30);
  const rec = await svc.afterShow.recordings.create({ buskId: 'show', owner: ada, file: 'show.mp4', contentType: 'video/mp4' });
  await svc.afterShow.recordings.finish(rec.id);
  const short = await svc.afterShow.shorts.create(ada, { recordingId: rec.id, startS: 6, endS: 26, title: 'Twenty seconds', hashtags: ['cello'] });
  await svc.afterShow.profiles.update(ada, { bio: 'Cello on the quay', tipUrl: 'https://tips.example/ada' });

  // An anonymous viewer on a phone: the feed, one short filling the screen, playing.
  const phone = await web.open(await web.context({ phone: true }), '/shorts.html?tag=cello');
  const video = phone.locator(`article[data-id="${short.id}"] video`);
  await video.waitFor();
  const box = (await phone.locator(`article[data-id="${short.id}"]`).boundingBox())!;
  expect(box.width).toBeGreaterThanOrEqual(350);
  await waitFor(() => video.evaluate((v) => (v as HTMLVideoElement).readyState >= 1), 15000, 'metadata');
  const duration = await video.evaluate((v) => (v as HTMLVideoElement).duration);
  expect(Math.abs(duration - 20)).toBeLessThanOrEqual(KEYFRAME_S + 0.1);
  await video.evaluate((v) => (v as HTMLVideoElement).play());
  const t0 = await video.evaluate((v) => (v as HTMLVideoElement).currentTime);
  await waitFor(() => video.evaluate((v, t) => (v as HTMLVideoElement).currentTime > t + 0.5, t0), 15000, 'playback to advance');
  // The range request is what the player made: the short counts a view.
  await waitFor(async () => (await svc.afterShow.shorts.get(short.id))!.views >= 1, 10000, 'a view counted');

  // Comments: the phone opens them; a signed-in viewer in another browser writes one.
  await phone.locator(`article[data-id="${short.id}"] .comments-toggle`).click();
  const fan = await devToken(svc, 'Fan');
  const desk = await web.open(await web.context(), `/shorts.html?id=${short.id}`, signIn(fan));
  await desk.locator('.comments-toggle').click();
  await desk.locator('input[aria-label="Your comment"]').fill('Bravo!');
  await desk.locator('button', { hasText: 'Send' }).click();
  await phone.locator('.comments li', { hasText: 'Bravo!' }).waitFor({ timeout: 15000 });
  expect(await phone.locator(`article[data-id="${short.id}"] .comments-toggle`).textContent()).toContain('(1)');

  // The profile: name, bio, https tip link, the short.
  const prof = await web.open(await web.context({ phone: true }), `/u/${encodeURIComponent(ada.id)}`);
  await prof.locator('#name', { hasText: 'Ada' }).waitFor();
  expect(await prof.locator('#bio').textContent()).toBe('Cello on the quay');
  expect(await prof.locator('#tip').getAttribute('href')).toBe('https://tips.example/ada');
  await prof.locator('#shorts li', { hasText: 'Twenty seconds' }).waitFor();
  expect(await prof.locator('#live').isHidden()).toBe(true);
  for (const p of [phone, desk, prof]) expect(web.pageErrors(p)).toEqual([]);
}, 120000);

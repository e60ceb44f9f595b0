// Recording in a real browser (Debian's Chromium, fake camera) against the real service on a
// DATA_DIR: the busker ticks "Record this show" and goes live; a viewer's watch page shows the
// "recording" badge; "Clip the last 30 s" publishes a short while the show goes on; after the end,
// "My recordings" lists the finished recording with its thumbnail timeline and a player that plays.
import type { Service } from '../../signaling/src/service';
import { waitFor } from '../../test-support/ports';
import { goLive, serviceOnDataDir, signInStudio } from './support';

const scene = serviceOnDataDir('web-record-');

test('record at go-live: badge for viewers, a live clip, then the recording in "My recordings"', async () => {
  const { svc, web } = scene;
  const studio = await web.open(await web.context(), '/studio.html');
  await signInStudio(studio, 'Rosa');
  expect(await studio.getByLabel('Record this show').isChecked()).toBe(false); // off by default
  const buskId = await goLive(studio, { title: 'Recorded in the square', hashtags: 'accordion', record: true });
  expect(await studio.getByLabel('Record this show').isDisabled()).toBe(true);

  const viewer = await web.open(await web.context(), `/watch.html?busk=${buskId}`);
  await viewer.locator('#recording-badge').waitFor({ state: 'visible', timeout: 15000 });

  // Six seconds on the recording's timeline, then a live clip.
  await waitFor(() => (svc.busks.recording(buskId)?.seconds ?? 0) >= 6, 40000, '6 s recorded');
  await studio.getByRole('button', { name: 'Clip the last 30 s' }).click();
  await waitFor(async () => (await studio.locator('#clip-status a').count()) > 0, 30000, 'the live clip published', 250).catch(async (e) => { throw new Error(`${e.message}; studio says: ${await studio.textContent('#clip-status')}`); });
  const shortId = new URL(await studio.getAttribute('#clip-status a', 'href') ?? '', svc.url).searchParams.get('id')!;
  const short = (await svc.afterShow.shorts.get(shortId))!;
  expect(short.durationS).toBeGreaterThan(1);
  expect(short.hashtags).toEqual(['accordion']);

  await studio.getByRole('button', { name: 'End show' }).click();
  await waitFor(async () => (await studio.textContent('#busk-state'))?.startsWith('Show ended'), 10000, 'ended');
  await waitFor(async () => (await svc.afterShow.recordings.mine({ id: short.owner.id, name: 'Rosa', roles: [], anonymous: false }))[0]?.state === 'ready', 20000, 'recording ready');
  await studio.getByRole('button', { name: 'Refresh' }).click();
  const item = studio.locator('#recordings-list li').first();
  await item.locator('video').waitFor({ timeout: 10000 });
  await waitFor(async () => (await item.locator('canvas.thumb').count()) === 8, 20000, 'the thumbnail timeline');
  const player = item.locator('video.rec-player');
  await waitFor(() => player.evaluate((v) => (v as HTMLVideoElement).readyState >= 1), 15000, 'metadata');
  expect(await player.evaluate((v) => (v as HTMLVideoElement).duration)).toBeGreaterThan(5);
  await player.evaluate((v) => { (v as HTMLVideoElement).muted = true; return (v as HTMLVideoElement).play(); });
  await waitFor(() => player.evaluate((v) => (v as HTMLVideoElement).currentTime > 0.5), 15000, 'the recording plays');
});

// The crowd tier as viewers meet it, in Chromium with hls.js: an H.264 WHIP publisher (x264 over
// werift, as OBS sends) goes live on a service with HLS on and room for one WebRTC viewer.
// - A page whose WebRTC can never connect (no usable ICE candidates: no UDP, no TURN) moves to HLS
//   by itself, says so, and plays it for 20 s with frames advancing and no stall; it gives its
//   WebRTC place back when it leaves.
// - The next page takes that place over WebRTC; the one after is told `full` and moves to HLS.
// - The viewer count covers both tiers; DELETE on the WHIP session ends the show on every page.
import type { Page } from 'playwright-core';
import { waitFor } from '../../test-support/ports';
import { H264Publisher } from '../../test-support/h264-whip';
import { devToken, expectVideoFlowing, framesDecoded, mediaReport, serviceOnDataDir } from './support';

jest.setTimeout(180000);

const scene = serviceOnDataDir('web-crowd-', { HLS_ENABLED: 'true', WEBRTC_VIEWERS_PER_BUSK: '1' });

/**
 * WebRTC that cannot get out: every peer connection is forced to relay-only with no TURN server, so
 * it gathers no candidate and never connects, as on a network with no UDP and no TURN.
 */
async function blockWebRtc(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    const Blocked = function (this: unknown, config?: RTCConfiguration) {
      return new Native({ ...config, iceServers: [], iceTransportPolicy: 'relay' });
    } as unknown as typeof RTCPeerConnection;
    Blocked.prototype = Native.prototype;
    window.RTCPeerConnection = Blocked;
  });
}

const tierOf = (page: Page) => page.getAttribute('#tier', 'data-tier');
const stateOf = (page: Page) => page.getAttribute('#watch-state', 'data-state');

test('no WebRTC or no room for it: the watch page plays the HLS crowd tier; both tiers counted; DELETE /whip ends both', async () => {
  const { svc, web } = scene;
  const token = await devToken(svc, 'Crowd', ['busker']);
  const pub = await H264Publisher.publish(svc.url, token, { query: { title: 'Crowd pleaser' } });
  try {
    const [busk] = await (await fetch(`${svc.url}/api/busks`)).json() as { id: string; hls?: string }[];
    expect(busk!.hls).toBeTruthy();
    const viewers = async () => ((await (await fetch(`${svc.url}/api/busks/${busk!.id}`)).json()) as { viewers: number }).viewers;

    // 1. WebRTC blocked in the page: it gives up on WebRTC and plays HLS, saying so.
    const blocked = await web.open(await web.context(), `/watch.html?busk=${busk!.id}`, blockWebRtc);
    await waitFor(async () => (await tierOf(blocked)) === 'hls', 20000, 'the blocked page moves to HLS');
    expect(await blocked.textContent('#tier')).toMatch(/HLS/);
    expect(await blocked.textContent('#watch-detail')).toMatch(/HLS/);
    await expectVideoFlowing(blocked, 20000);
    await waitFor(async () => (await stateOf(blocked)) === 'live', 10000, 'the HLS page says live');

    // 20 s of HLS: frames advance every second and the page never calls it stalled.
    let last = await framesDecoded(blocked);
    const samples: number[] = [];
    for (let i = 0; i < 20; i++) {
      await blocked.waitForTimeout(1000);
      const now = await framesDecoded(blocked);
      samples.push(now - last);
      if (now <= last || (await stateOf(blocked)) !== 'live') throw new Error(`HLS stalled after ${i + 1} s (frames per second ${samples.join(',')}): ${await mediaReport(blocked)}`);
      last = now;
    }
    // The publisher sends 25 fps: a second of HLS decodes about that many (hls.js catching up may add a few).
    expect(samples.reduce((a, b) => a + b, 0) / samples.length).toBeGreaterThan(20);

    // 2. The blocked page left its WebRTC place: the next viewer gets it, over WebRTC.
    const realTime = await web.open(await web.context(), `/watch.html?busk=${busk!.id}`);
    await expectVideoFlowing(realTime, 20000);
    expect(await tierOf(realTime)).toBe('webrtc');
    expect(await realTime.textContent('#tier')).toMatch(/WebRTC/);

    // 3. WEBRTC_VIEWERS_PER_BUSK=1: the next one is told `full` and moves to HLS at once.
    const crowd = await web.open(await web.context(), `/watch.html?busk=${busk!.id}`);
    await waitFor(async () => (await tierOf(crowd)) === 'hls', 15000, 'the third page moves to HLS');
    expect(await crowd.textContent('#watch-detail')).toMatch(/full/);
    await expectVideoFlowing(crowd, 20000);

    // The count covers both tiers: one WebRTC viewer and two HLS ones, on the pages too.
    await waitFor(async () => (await viewers()) === 3, 15000, 'three viewers over both tiers');
    await waitFor(async () => (await realTime.textContent('#viewer-count')) === '3 watching', 10000, 'the page counts both tiers');

    // DELETE on the WHIP session: every page, whatever its tier, says the show ended.
    expect(await pub.delete()).toBe(200);
    for (const p of [blocked, realTime, crowd]) await waitFor(async () => (await stateOf(p)) === 'ended', 15000, 'the page says ended');
    for (const p of [blocked, realTime, crowd]) expect(web.pageErrors(p)).toEqual([]);
  } finally {
    await pub.close();
  }
});

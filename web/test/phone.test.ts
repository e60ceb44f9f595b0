// Going live from a phone (issue 18), in Debian's Chromium with a fake camera at phone size, against
// the real service (embedded media engine). The page's own APIs that a desktop browser cannot drive
// are instrumented in the page before it loads: navigator.wakeLock (to observe the requests) and
// document.visibilityState (to send the page to the background and back). Offers are counted on the
// studio's STOMP socket: a SEND to /app/busk.{id}.offer.
import type { Page } from 'playwright-core';
import { waitFor } from '../../test-support/ports';
import type { Service } from '../../signaling/src/service';
import { WebTest, ensureBuilt, expectVideoFlowing, framesDecoded, mediaReport, startWebService } from './support';

let svc: Service;
let web: WebTest;

beforeAll(async () => {
  await ensureBuilt();
  svc = await startWebService();
  // Several fake cameras, so that a switch really changes the camera (see instrumentPage).
  web = await WebTest.start(svc, ['--use-fake-device-for-media-stream=device-count=3']);
}, 120000);

afterAll(async () => {
  await web?.close();
  await svc?.close();
});

/** Runs in the studio page before its scripts: a recording wake lock and a switchable visibility. */
function instrumentPage(): void {
  type Sentinel = EventTarget & { released: boolean; type: string; release(): Promise<void> };
  const w = window as unknown as { __wake: { at: number; visibility: string }[]; __setVisibility(v: string): void };
  w.__wake = [];
  let current: Sentinel | null = null;
  let visibility = 'visible';
  Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => visibility });
  Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => visibility === 'hidden' });
  w.__setVisibility = (v) => { visibility = v; document.dispatchEvent(new Event('visibilitychange')); };
  // Chromium's fake camera number 1 is a depth camera (16-bit grey) that no video encoder takes; a
  // phone lists its colour cameras, so this page does not see that one.
  // What the studio asks of its video sender's encoder, as the browser accepted it.
  const setParameters = RTCRtpSender.prototype.setParameters;
  (window as unknown as { __videoEncodings: RTCRtpEncodingParameters[] }).__videoEncodings = [];
  RTCRtpSender.prototype.setParameters = async function (this: RTCRtpSender, params: RTCRtpSendParameters, ...rest: unknown[]) {
    await (setParameters as (...a: unknown[]) => Promise<void>).call(this, params, ...rest);
    if (this.track?.kind === 'video') (window as unknown as { __videoEncodings: RTCRtpEncodingParameters[] }).__videoEncodings = this.getParameters().encodings;
  };
  const enumerate = MediaDevices.prototype.enumerateDevices;
  MediaDevices.prototype.enumerateDevices = async function () {
    return (await enumerate.call(this)).filter((d) => d.label !== 'fake_device_1');
  };
  if (sessionStorage.getItem('no-wake-lock')) { delete (Navigator.prototype as unknown as { wakeLock?: unknown }).wakeLock; return; }
  Object.defineProperty(Navigator.prototype, 'wakeLock', {
    configurable: true,
    get: () => ({
      request: async (type: string) => {
        w.__wake.push({ at: Date.now(), visibility: document.visibilityState });
        const s = new EventTarget() as Sentinel;
        s.released = false;
        s.type = type;
        s.release = async () => { if (!s.released) { s.released = true; s.dispatchEvent(new Event('release')); } };
        current = s;
        return s;
      },
    }),
  });
  // As browsers do: a screen wake lock is dropped when the page is hidden.
  document.addEventListener('visibilitychange', () => { if (visibility === 'hidden') void current?.release(); });
}

interface Offer { sdp: string; session: string; ufrag: string }

/** The offers a page sends, read off its STOMP socket. */
function recordOffers(page: Page): Offer[] {
  const offers: Offer[] = [];
  page.on('websocket', (ws) => ws.on('framesent', (f) => {
    const frame = String(f.payload);
    if (!frame.startsWith('SEND') || !/destination:\/app\/busk\.[^.\n]+\.offer/.test(frame)) return;
    const body = JSON.parse(frame.slice(frame.indexOf('\n\n') + 2).replace(/\0+$/, '')) as { sdpOffer: string };
    const sdp = body.sdpOffer;
    offers.push({ sdp, session: /^o=\S+ (\d+)/m.exec(sdp)?.[1] ?? '', ufrag: /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1] ?? '' });
  }));
  return offers;
}

interface Studio { page: Page; offers: Offer[]; buskId: string }

async function goLive(title: string, init: { noWakeLock?: boolean } = {}): Promise<Studio> {
  let offers: Offer[] = [];
  const page = await web.open(await web.context({ phone: true }), '/studio.html', async (p) => {
    offers = recordOffers(p);
    if (init.noWakeLock) await p.addInitScript(() => sessionStorage.setItem('no-wake-lock', '1'));
    await p.addInitScript(instrumentPage);
  });
  await page.getByLabel('Your name').fill('Pia');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Signed in as').waitFor();
  await page.getByLabel('Title').fill(title);
  await page.getByRole('button', { name: 'Go live' }).click();
  await waitFor(async () => (await page.textContent('#busk-state')) === 'You are live', 30000, 'live');
  await waitFor(async () => (await page.textContent('#media-health')) === 'Flowing', 15000, 'media flowing');
  const buskId = new URL(await page.getAttribute('#watch-link', 'href') ?? '', svc.url).searchParams.get('busk') ?? '';
  return { page, offers, buskId };
}

/** A viewer at phone size that records every state its page shows, and its own offers. */
async function watchAt(buskId: string): Promise<{ page: Page; offers: Offer[] }> {
  let offers: Offer[] = [];
  const page = await web.open(await web.context({ phone: true }), `/watch.html?busk=${buskId}`, async (p) => {
    offers = recordOffers(p);
    await p.addInitScript(() => {
      const w = window as unknown as { __states: string[] };
      w.__states = [];
      new MutationObserver(() => {
        const s = document.body.dataset.state ?? '';
        if (w.__states[w.__states.length - 1] !== s) w.__states.push(s);
      }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-state'] });
    });
  });
  await waitFor(async () => (await page.getAttribute('#watch-state', 'data-state')) === 'live', 20000, 'viewer live');
  await expectVideoFlowing(page);
  return { page, offers };
}

async function end(studio: Studio, ...others: Page[]): Promise<void> {
  await studio.page.getByRole('button', { name: 'End show' }).click();
  await waitFor(async () => (await studio.page.textContent('#busk-state'))?.startsWith('Show ended'), 10000, 'ended');
  for (const p of [studio.page, ...others]) expect(web.pageErrors(p)).toEqual([]);
  for (const p of [studio.page, ...others]) await p.context().close();
}

/** Frames decoded grow again within `ms` of now (polled, not slept). */
async function decodingWithin(page: Page, ms: number): Promise<number> {
  const t0 = Date.now();
  const before = await framesDecoded(page);
  try {
    await waitFor(async () => (await framesDecoded(page)) > before + 3, ms, 'frames decoded to grow');
  } catch (e) {
    throw new Error(`${(e as Error).message}; the page shows ${await mediaReport(page)}`);
  }
  return Date.now() - t0;
}

describe('going live from a phone', () => {
  test('the screen wake lock is requested when live and again after the page was hidden and shown', async () => {
    const studio = await goLive('Wake lock');
    const calls = () => studio.page.evaluate(() => (window as unknown as { __wake: unknown[] }).__wake.length);
    await waitFor(async () => (await calls()) === 1, 5000, 'the first wake lock request');
    expect(await studio.page.getAttribute('#wake-state', 'data-state')).toBe('held');
    await studio.page.evaluate(() => (window as unknown as { __setVisibility(v: string): void }).__setVisibility('hidden'));
    await waitFor(async () => (await studio.page.getAttribute('#wake-state', 'data-state')) === 'released', 5000, 'the lock released while hidden');
    expect(await calls()).toBe(1); // nothing asked while hidden (a browser refuses it then)
    await studio.page.evaluate(() => (window as unknown as { __setVisibility(v: string): void }).__setVisibility('visible'));
    await waitFor(async () => (await calls()) === 2, 5000, 'the wake lock requested again');
    await waitFor(async () => (await studio.page.getAttribute('#wake-state', 'data-state')) === 'held', 5000, 'held again');
    await web.shot(studio.page, 'studio-phone', true);
    await end(studio);
  }, 60000);

  test('without the Wake Lock API the studio says plainly not to lock the phone', async () => {
    const studio = await goLive('No wake lock', { noWakeLock: true });
    await waitFor(async () => (await studio.page.getAttribute('#wake-state', 'data-state')) === 'unsupported', 5000, 'the warning');
    expect(await studio.page.textContent('#wake-state')).toContain('do not let the phone lock');
    await end(studio);
  }, 60000);

  test('the camera switch keeps viewers decoding, without a new offer; the choice is remembered', async () => {
    const studio = await goLive('Camera switch');
    const viewer = await watchAt(studio.buskId);
    const offersBefore = studio.offers.length;
    expect(offersBefore).toBe(1);
    const trackId = () => studio.page.$eval('#preview', (v) => ((v as HTMLVideoElement).srcObject as MediaStream).getVideoTracks()[0]?.id ?? '');
    const deviceId = () => studio.page.$eval('#preview', (v) => ((v as HTMLVideoElement).srcObject as MediaStream).getVideoTracks()[0]?.getSettings().deviceId ?? '');
    const [track0, device0] = [await trackId(), await deviceId()];
    expect(await studio.page.$eval('#preview', (v) => v.classList.contains('mirrored'))).toBe(true); // front camera
    await studio.page.getByRole('button', { name: 'Switch camera' }).click();
    await waitFor(async () => (await trackId()) !== track0, 10000, 'the new camera track');
    expect(await deviceId()).not.toBe(device0); // the other fake camera
    expect(await studio.page.$eval('#preview', (v) => v.classList.contains('mirrored'))).toBe(false); // rear: not mirrored
    expect(await studio.page.evaluate(() => localStorage.getItem('busking.facing'))).toBe('environment');
    // The sender carries the new track; viewers keep decoding on their legs.
    await waitFor(() => studio.page.evaluate(async () => {
      const v = document.getElementById('preview') as HTMLVideoElement;
      return ((v.srcObject as MediaStream).getVideoTracks()[0]?.readyState === 'live');
    }), 5000, 'the new track live');
    await decodingWithin(viewer.page, 5000);
    await expectVideoFlowing(viewer.page);
    expect(studio.offers.length).toBe(offersBefore);
    expect(viewer.offers.length).toBe(1);
    await end(studio, viewer.page);
  }, 90000);

  test('background (hidden, camera stopped by the browser) then back: viewers see "right back", then video within 3 s, never "ended"', async () => {
    const studio = await goLive('Background');
    const viewer = await watchAt(studio.buskId);
    await studio.page.evaluate(() => {
      (window as unknown as { __setVisibility(v: string): void }).__setVisibility('hidden');
      // What a phone's browser does to a page in the background: the capture stops.
      const stream = (document.getElementById('preview') as HTMLVideoElement).srcObject as MediaStream;
      for (const t of stream.getTracks()) { t.stop(); t.dispatchEvent(new Event('ended')); }
    });
    await waitFor(async () => !(await viewer.page.isHidden('#slate')), 15000, 'the "right back" slate');
    expect(await viewer.page.textContent('#slate')).toContain('right back');
    expect(await viewer.page.textContent('#watch-state')).toContain('right back');
    await studio.page.evaluate(() => (window as unknown as { __setVisibility(v: string): void }).__setVisibility('visible'));
    const took = await decodingWithin(viewer.page, 3000);
    await waitFor(async () => (await viewer.page.getAttribute('#watch-state', 'data-state')) === 'live', 5000, 'viewer live again');
    expect(await viewer.page.isHidden('#slate')).toBe(true);
    expect(studio.offers.length).toBe(1); // the same leg continued
    const states = await viewer.page.evaluate(() => (window as unknown as { __states: string[] }).__states);
    expect(states).not.toContain('ended');
    console.log(`back from the background: viewer decoding again after ${took} ms; viewer states ${states.join(' → ')}`);
    await end(studio, viewer.page);
  }, 90000);

  test('offline then online: an ICE restart on the same connection, viewers keep their legs and decode within 5 s', async () => {
    const studio = await goLive('Network change');
    const viewer = await watchAt(studio.buskId);
    const first = studio.offers[0];
    await studio.page.context().setOffline(true);
    await waitFor(async () => (await studio.page.textContent('#link-state')) !== 'Connected', 10000, 'the studio notices');
    await studio.page.context().setOffline(false);
    const t0 = Date.now();
    await waitFor(() => studio.offers.length > 1, 10000, 'the ICE restart offer');
    const restart = studio.offers[studio.offers.length - 1];
    expect(restart.session).toBe(first.session); // the same RTCPeerConnection (o= session id)...
    expect(restart.ufrag).not.toBe(first.ufrag); // ...with new ICE credentials
    await decodingWithin(viewer.page, Math.max(1000, 5000 - (Date.now() - t0)));
    await waitFor(async () => (await studio.page.textContent('#busk-state')) === 'You are live', 10000, 'live again');
    await waitFor(async () => (await studio.page.textContent('#media-health')) === 'Flowing', 10000, 'media flowing again');
    expect(viewer.offers.length).toBe(1); // the viewer's leg was kept
    console.log(`offline → online: ${studio.offers.length - 1} ICE restart offer(s); viewer decoding ${Date.now() - t0} ms after online`);
    await end(studio, viewer.page);
  }, 90000);

  test('a phone held upright sends portrait frames, and they arrive as portrait at a viewer', async () => {
    const studio = await goLive('Portrait');
    const sent = await studio.page.$eval('#preview', (v) => ({ w: (v as HTMLVideoElement).videoWidth, h: (v as HTMLVideoElement).videoHeight }));
    expect(sent.h).toBeGreaterThan(sent.w);
    const viewer = await watchAt(studio.buskId);
    const got = await viewer.page.$eval('#video', (v) => ({ w: (v as HTMLVideoElement).videoWidth, h: (v as HTMLVideoElement).videoHeight }));
    expect(got.h).toBeGreaterThan(got.w);
    // The offer did not ask the media server to carry a rotation tag: the pixels are upright.
    expect(studio.offers[0].sdp).not.toContain('urn:3gpp:video-orientation');
    await end(studio, viewer.page);
  }, 90000);

  test('save data caps the sent video at 480p and 800 kbps, with the uplink shown live', async () => {
    const studio = await goLive('Save data');
    await waitFor(async () => Number(await studio.page.getAttribute('#uplink', 'data-kbps')) > 0, 10000, 'the uplink figure');
    await studio.page.getByLabel('Save data').check();
    await waitFor(async () => (await studio.page.textContent('#uplink'))?.includes('save data'), 5000, 'the uplink says save data');
    // The encoder's own cap, as the sender reports it back: 800 kbps, scaled down to 480 lines.
    const enc = await studio.page.evaluate(() => (window as unknown as { __videoEncodings: RTCRtpEncodingParameters[] }).__videoEncodings[0]);
    expect(enc?.maxBitrate).toBe(800_000);
    expect(enc?.scaleResolutionDownBy ?? 1).toBeGreaterThanOrEqual(1);
    // The short side of what the encoder sends (getStats), and the measured uplink (video + audio).
    await waitFor(async () => Number(await studio.page.getAttribute('#uplink', 'data-lines')) <= 480, 10000, 'at most 480p sent');
    await waitFor(async () => Number(await studio.page.getAttribute('#uplink', 'data-kbps')) <= 900, 15000, 'the uplink under the cap');
    console.log(`save data: uplink ${await studio.page.textContent('#uplink')}`);
    await studio.page.getByLabel('Save data').uncheck();
    await waitFor(async () => (await studio.page.evaluate(() => (window as unknown as { __videoEncodings: RTCRtpEncodingParameters[] }).__videoEncodings[0]?.maxBitrate)) === undefined, 5000, 'the cap lifted');
    await end(studio);
  }, 60000);
});

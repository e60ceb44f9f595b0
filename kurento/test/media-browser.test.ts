// Headless Chromium (fake camera) as presenter and as viewer of the engine's MediaPeers, talking to
// them through a tiny in-page harness (page.evaluate exchanges SDP and trickled candidates).
/* eslint-disable @typescript-eslint/no-explicit-any */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../test-support/browser';
import { waitFor } from '../../test-support/ports';
import { createMediaPeer, type MediaPeer } from '../src/media';
import { onlyVideoCodecs } from './media-support';

jest.setTimeout(120000);

// Page-side globals (evaluated in Chromium; this project compiles without the DOM lib).
declare const window: any;
declare const document: any;
declare const navigator: any;
declare const RTCPeerConnection: any;
declare const MediaStream: any;
type HTMLVideoElement = any;

let browser: Browser;
let pageServer: http.Server;
let pageUrl = '';
const peers: MediaPeer[] = [];
const opts = { bindAddress: '127.0.0.1' };

beforeAll(async () => {
  // Real host addresses instead of mDNS names, so the engine can pair with the page's candidates.
  browser = await launchChromium(['--disable-features=WebRtcHideLocalIpsWithMdns']);
  // getUserMedia needs a secure context: http://127.0.0.1 is one, about:blank is not.
  pageServer = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html><body><video id="v" autoplay muted playsinline></video></body></html>');
  });
  await new Promise<void>((r) => pageServer.listen(0, '127.0.0.1', () => r()));
  pageUrl = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  for (const p of peers) await p.close();
  await browser?.close();
  pageServer?.close();
});

async function newPage(): Promise<Page> {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(pageUrl);
  return page;
}

/** Page side: RTCPeerConnection as presenter (fake camera) or viewer; returns the offer. */
async function pageOffer(page: Page, role: 'presenter' | 'viewer'): Promise<string> {
  return page.evaluate(async (r) => {
    const w = window as any;
    const pc = new RTCPeerConnection();
    w.pc = pc;
    w.cands = [];
    w.frames = 0;
    pc.onicecandidate = (e: any) => { if (e.candidate && e.candidate.candidate) w.cands.push(e.candidate.toJSON()); };
    if (r === 'presenter') {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
      for (const t of stream.getTracks()) pc.addTransceiver(t, { direction: 'sendonly' });
    } else {
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.ontrack = (e: any) => {
        if (e.track.kind !== 'video') return;
        const v = document.getElementById('v') as HTMLVideoElement;
        v.srcObject = new MediaStream([e.track]);
        const count = () => { w.frames++; (v as any).requestVideoFrameCallback(count); };
        (v as any).requestVideoFrameCallback(count);
        v.play().catch(() => undefined);
      };
    }
    const offer = await pc.createOffer();
    return offer.sdp as string;
  }, role);
}

async function negotiatePage(page: Page, role: 'presenter' | 'viewer', server: MediaPeer, munge: (s: string) => string = (s) => s): Promise<{ offer: string; answer: string }> {
  const offer = munge(await pageOffer(page, role));
  await page.evaluate((sdp) => (window as any).pc.setLocalDescription({ type: 'offer', sdp }), offer);
  server.on('candidate', (c) => { page.evaluate((cand) => (window as any).pc.addIceCandidate(cand), c).catch(() => undefined); });
  const answer = await server.processOffer(offer);
  await page.evaluate((sdp) => (window as any).pc.setRemoteDescription({ type: 'answer', sdp }), answer);
  await server.gatherCandidates();
  // Relay the page's candidates as they appear (trickle), until its connection is up.
  let relayed = 0;
  await waitFor(async () => {
    const { cands, state } = await page.evaluate(() => ({ cands: (window as any).cands, state: (window as any).pc.connectionState }));
    for (; relayed < cands.length; relayed++) await server.addIceCandidate(cands[relayed]).catch(() => undefined);
    return state === 'connected';
  }, 20000, `${role} page connected`, 100);
  return { offer, answer };
}

const framesDecoded = (page: Page) => page.evaluate(async () => {
  const stats = await (window as any).pc.getStats();
  let n = 0;
  stats.forEach((s: any) => { if (s.type === 'inbound-rtp' && s.kind === 'video') n = s.framesDecoded ?? 0; });
  return { framesDecoded: n, callbacks: (window as any).frames as number };
});

test('Chromium presenter → engine → Chromium viewer and a second Chromium viewer: decoded frames', async () => {
  const source = createMediaPeer(opts); peers.push(source);
  const presenter = await newPage();
  await negotiatePage(presenter, 'presenter', source);
  await waitFor(() => source.isMediaFlowingIn('video'), 15000, 'video flowing in from Chromium');

  for (let i = 0; i < 2; i++) {
    const sink = createMediaPeer(opts); peers.push(sink);
    source.connect(sink, ['audio', 'video']);
    const viewer = await newPage();
    const t0 = Date.now();
    const { answer } = await negotiatePage(viewer, 'viewer', sink);
    expect(answer).not.toMatch(/a=candidate/);
    await waitFor(async () => (await framesDecoded(viewer)).framesDecoded > 0, 15000, `viewer ${i} first decoded frame`);
    const firstMs = Date.now() - t0;
    await waitFor(async () => { const f = await framesDecoded(viewer); return f.framesDecoded >= 20 && f.callbacks >= 10; }, 20000, `viewer ${i} decodes frames`);
    // eslint-disable-next-line no-console
    console.log(`Chromium viewer ${i}: first decoded frame ${firstMs} ms after the offer`);
    expect(sink.isMediaFlowingOut('video')).toBe(true);
  }
});

test('H.264 end to end when Chromium offers it; VP8-only presenter vs H.264-only viewer raises NOT_NEGOTIATED', async () => {
  const probe = await newPage();
  const offer = await pageOffer(probe, 'viewer');
  const hasH264 = /a=rtpmap:\d+ H264\/90000/.test(offer);
  await probe.close();

  const source = createMediaPeer(opts); peers.push(source);
  const presenter = await newPage();
  await negotiatePage(presenter, 'presenter', source, (s) => onlyVideoCodecs(s, ['VP8']));
  await waitFor(() => source.isMediaFlowingIn('video'), 15000, 'VP8 flowing in');
  if (hasH264) {
    const sink = createMediaPeer(opts); peers.push(sink);
    const errors: any[] = [];
    sink.on('error', (e) => errors.push(e));
    source.connect(sink, ['video']);
    const viewer = await newPage();
    await negotiatePage(viewer, 'viewer', sink, (s) => onlyVideoCodecs(s, ['H264']));
    await waitFor(() => errors.length > 0, 10000, 'NOT_NEGOTIATED error');
    expect(errors[0]).toMatchObject({ type: 'NOT_NEGOTIATED' });

    const h264Source = createMediaPeer(opts); peers.push(h264Source);
    const h264Presenter = await newPage();
    await negotiatePage(h264Presenter, 'presenter', h264Source, (s) => onlyVideoCodecs(s, ['H264']));
    const h264Sink = createMediaPeer(opts); peers.push(h264Sink);
    h264Source.connect(h264Sink, ['video']);
    const h264Viewer = await newPage();
    await negotiatePage(h264Viewer, 'viewer', h264Sink);
    await waitFor(async () => (await framesDecoded(h264Viewer)).framesDecoded >= 10, 20000, 'H.264 viewer decodes frames');
  } else {
    // eslint-disable-next-line no-console
    console.log('this Chromium build offers no H.264: H.264 path not exercised in the browser');
  }
});

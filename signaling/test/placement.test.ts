// Several media servers (KMS_URLS with two embedded engines): pipelines go to the least-loaded one,
// also when busks start at the same moment; a server that goes away takes new busks off it, and
// /readyz stays green while one is up.
import { RTCPeerConnection } from 'werift';
import { startMediaServer, type MediaServer } from '../../kurento/src';
import { waitFor } from '../../test-support/ports';
import { startTestService, devToken, connect } from './support/service';
import type { StompTestClient } from './support/stomp-client';
import type { Service } from '../src/service';

jest.setTimeout(120000);

let engines: MediaServer[] = [];
let svc: Service;
const closers: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  engines = [await startMediaServer({ port: 0, bindAddress: '127.0.0.1' }), await startMediaServer({ port: 0, bindAddress: '127.0.0.1' })];
  svc = await startTestService({ KMS_URLS: engines.map((e) => e.url).join(',') });
});

afterAll(async () => {
  for (const c of closers.reverse()) await c();
  await svc.close();
  for (const e of engines) await e.close();
});

/** A real WebRTC offer (werift, pure JS: nothing native in the jest process). */
async function presenterOffer(): Promise<string> {
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  closers.push(() => pc.close());
  pc.addTransceiver('video', { direction: 'sendonly' });
  pc.addTransceiver('audio', { direction: 'sendonly' });
  await pc.setLocalDescription(await pc.createOffer());
  return pc.localDescription!.sdp;
}

/** Starts a busk and sends the presenter's offer: that is when its pipeline is created. */
async function goLive(client: StompTestClient, title: string): Promise<string> {
  const q = await client.subscribeSync('/user/queue/busk');
  const before = q.messages.length;
  expect(await client.request('/app/busk.start', { title })).toBe('ok');
  const started = await waitFor(() => q.messages.slice(before).find((m) => m.body?.type === 'started'), 10000, 'started');
  const buskId = started.body.buskId as string;
  const answers = await client.subscribeSync(`/user/queue/busk.${buskId}`);
  expect(await client.request(`/app/busk.${buskId}.offer`, { sdpOffer: await presenterOffer() })).toBe('ok');
  await answers.type('answer');
  return buskId;
}

async function busker(name: string): Promise<StompTestClient> {
  const c = await connect(svc, await devToken(svc, name, ['busker']));
  closers.push(() => c.close());
  return c;
}

test('busks that start together are spread over the media servers', async () => {
  const clients = await Promise.all(['a', 'b', 'c', 'd'].map(busker));
  await Promise.all(clients.map((c, i) => goLive(c, `together ${i}`)));
  expect(engines.map((e) => e.stats.pipelines).sort()).toEqual([2, 2]);
});

test('the next busk goes to the server with fewer pipelines', async () => {
  const ids = await Promise.all([busker('e'), busker('f')]);
  await goLive(ids[0], 'fifth');
  const counts = engines.map((e) => e.stats.pipelines).sort();
  expect(counts).toEqual([2, 3]);
  await goLive(ids[1], 'sixth');
  expect(engines.map((e) => e.stats.pipelines)).toEqual([3, 3]);
});

test('a server that goes away gets no new busks; /readyz stays green while one is up', async () => {
  await engines[0].close();
  await waitFor(() => !svc.media.servers[0].isUp, 15000, 'first server seen down');
  const ready = await fetch(`${svc.url}/readyz`);
  expect(ready.status).toBe(200);
  const before = engines[1].stats.pipelines;
  await goLive(await busker('g'), 'after the loss');
  expect(engines[1].stats.pipelines).toBe(before + 1);
});

// WHIP ingest and WHEP playback (RFC 9725) against the real service and embedded engine, with real
// WebRTC peers (@roamhq/wrtc): a WHIP client publishes a busk (candidates trickled by PATCH), a
// WHEP client and a STOMP viewer decode it, DELETE ends each leg; bad requests get the RFC's
// statuses and leave nothing behind.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestService, devToken, connect, serverPipelines } from './support/service';
import { PeerHost, negotiate, startBusk, watchBusk } from './support/peers';
import { startMediaServer } from '../../kurento/src';
import type { Peer, Candidate } from './support/peers';
import type { Service } from '../src/service';
import { waitFor } from '../../test-support/ports';

jest.setTimeout(120000);

let svc: Service;
let host: PeerHost;
// A TURN server that is only handed out (never reached): the Link headers carry it.
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'whip-'));
beforeAll(async () => {
  svc = await startTestService({ DATA_DIR: dataDir, TURN_URLS: 'turn:turn.example.org:3478?transport=udp', TURN_SECRET: 'whip-test-secret' });
  host = await PeerHost.start();
});
afterAll(async () => { host.stop(); await svc.close(); fs.rmSync(dataDir, { recursive: true, force: true }); });

const sdpHeaders = (token?: string) => ({ 'content-type': 'application/sdp', ...(token ? { authorization: `Bearer ${token}` } : {}) });

/** A peer's candidates as trickle-ice-sdpfrag bodies, PATCHed to the session as they come. */
function trickle(peer: Peer, url: string, etag: string, offer: string): Promise<number>[] {
  const mid = /a=mid:(\S+)/.exec(offer)?.[1] ?? '0';
  const ufrag = /a=ice-ufrag:(\S+)/.exec(offer)?.[1] ?? '';
  const pwd = /a=ice-pwd:(\S+)/.exec(offer)?.[1] ?? '';
  const sent: Promise<number>[] = [];
  peer.onCandidate((c: Candidate) => {
    if (!c?.candidate) return;
    const frag = `a=ice-ufrag:${ufrag}\r\na=ice-pwd:${pwd}\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:${c.sdpMid ?? mid}\r\na=${c.candidate.replace(/^a=/, '')}\r\n`;
    sent.push(fetch(svc.url + url, { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag', 'if-match': etag }, body: frag }).then((r) => r.status));
  });
  return sent;
}

async function busk(id: string): Promise<{ status: number; body: any }> {
  const r = await fetch(`${svc.url}/api/busks/${id}`);
  return { status: r.status, body: await r.json() };
}

test('WHIP publishes a busk that a WHEP client and a STOMP viewer decode; DELETE ends each leg and leaves nothing', async () => {
  const token = await devToken(svc, 'Obs', ['busker']);
  const presenter = await host.presenter({ audio: true }); // Opus too: the WHEP answer's stereo
  const offer = await presenter.offer();
  const res = await fetch(`${svc.url}/whip?title=${encodeURIComponent('OBS at the bridge')}&tags=violin,night&lat=51.5&lng=-0.12`, { method: 'POST', headers: sdpHeaders(token), body: offer });
  expect(res.status).toBe(201);
  expect(res.headers.get('content-type')).toMatch(/^application\/sdp/);
  const location = res.headers.get('location')!;
  expect(location).toMatch(/^\/whip\/[\w-]+$/);
  const etag = res.headers.get('etag')!;
  expect(etag).toMatch(/^".+"$/);
  expect(res.headers.get('link')).toMatch(/^<turn:turn\.example\.org:3478\?transport=udp>; rel="ice-server"; username="\d+:[^"]+"; credential="[^"]+"; credential-type="password"$/);
  expect(res.headers.get('access-control-expose-headers')).toMatch(/Location/);
  const answer = await res.text();
  expect(answer).toMatch(/^v=0/);
  expect(answer).toMatch(/\na=candidate:/); // the engine's candidates are in the one answer
  const patches = trickle(presenter, location, etag, offer);
  await presenter.answer(answer);

  const buskId = svc.busks.stats().busks === 1 ? (await (await fetch(`${svc.url}/api/busks`)).json() as { id: string }[])[0]!.id : '';
  expect((await busk(buskId)).body).toMatchObject({ title: 'OBS at the bridge', hashtags: ['violin', 'night'], location: { lat: 51.5, lng: -0.12 } });
  await waitFor(async () => (await busk(buskId)).body.media === 'flowing', 20000, 'media flowing in');
  expect(patches.length).toBeGreaterThan(0);
  expect(new Set(await Promise.all(patches))).toEqual(new Set([204]));

  // A WHEP player (no token: anonymous viewing is on) decodes it and counts as a viewer.
  const player = await host.viewer({ audio: true });
  const wOffer = await player.offer();
  const w = await fetch(`${svc.url}/whep/${buskId}`, { method: 'POST', headers: sdpHeaders(), body: wOffer });
  expect(w.status).toBe(201);
  const wLocation = w.headers.get('location')!;
  expect(wLocation).toMatch(/^\/whep\/[\w-]+$/);
  const wPatches = trickle(player, wLocation, w.headers.get('etag')!, wOffer);
  const wAnswer = await w.text();
  const opusPt = /a=rtpmap:(\d+) opus\/48000/i.exec(wAnswer)![1];
  expect(wAnswer).toMatch(new RegExp(`a=fmtp:${opusPt} [^\r\n]*stereo=1`)); // players decode stereo
  await player.answer(wAnswer);
  await player.waitFrames(10);
  // And a STOMP viewer next to it.
  const fan = await connect(svc);
  const { viewer } = await watchBusk(host, fan, buskId);
  await viewer.waitFrames(10);
  await waitFor(async () => (await busk(buskId)).body.viewers === 2, 10000, 'two viewers counted');
  expect(new Set(await Promise.all(wPatches))).toEqual(new Set([204]));

  // DELETE the WHEP session: one viewer left; the session is gone.
  expect((await fetch(svc.url + wLocation, { method: 'DELETE' })).status).toBe(200);
  await waitFor(async () => (await busk(buskId)).body.viewers === 1, 10000, 'one viewer counted');
  expect((await fetch(svc.url + wLocation, { method: 'DELETE' })).status).toBe(404);

  // DELETE the WHIP session: the busk ends for everyone, nothing on the media server.
  const ended = await fan.subscribeSync(`/topic/busk.${buskId}`);
  expect((await fetch(svc.url + location, { method: 'DELETE' })).status).toBe(200);
  expect((await ended.type('ended')).reason).toBe('presenter-left');
  expect((await busk(buskId)).status).toBe(404);
  await waitFor(async () => (await serverPipelines(svc)).length === 0, 10000, 'no pipelines');
  expect(svc.whip.size).toBe(0);
  await fan.close();
  for (const p of [presenter, player, viewer]) p.close();
});

test('bad requests get the RFC\'s statuses and leave nothing behind', async () => {
  const busker = await devToken(svc, 'Bad', ['busker']);
  const fan = await devToken(svc, 'Fan');
  const peer = await host.presenter();
  const offer = await peer.offer();
  const post = (url: string, headers: Record<string, string>, body: string) => fetch(svc.url + url, { method: 'POST', headers, body });

  const noToken = await post('/whip', sdpHeaders(), offer);
  expect(noToken.status).toBe(401);
  expect(noToken.headers.get('www-authenticate')).toMatch(/^Bearer/);
  expect((await post('/whip', sdpHeaders('not.a.jwt'), offer)).status).toBe(401);
  expect((await post('/whip', sdpHeaders(fan), offer)).status).toBe(403); // not a busker
  expect((await post('/whip', { 'content-type': 'application/json', authorization: `Bearer ${busker}` }, JSON.stringify({ sdp: offer }))).status).toBe(415);
  expect((await post('/whip', sdpHeaders(busker), 'hello')).status).toBe(400);
  expect((await post('/whip', sdpHeaders(busker), offer.replace(/\r?\nm=[\s\S]*/, '\r\n'))).status).toBe(400); // no media
  expect((await post('/whip?lat=91&lng=0', sdpHeaders(busker), offer)).status).toBe(400);
  expect((await post('/whep/nobusk', sdpHeaders(), offer)).status).toBe(404);
  expect((await fetch(`${svc.url}/whip/nosuch`, { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag', 'if-match': '"x"' }, body: 'a=end-of-candidates\r\n' })).status).toBe(404);
  expect((await fetch(`${svc.url}/whip/nosuch`, { method: 'DELETE' })).status).toBe(404);
  expect(svc.busks.stats()).toMatchObject({ busks: 0, viewers: 0 });
  expect(svc.whip.size).toBe(0);

  // A live WHIP busk: a second WHIP session for the same busker is refused; PATCH rules.
  const ok = await post('/whip', sdpHeaders(busker), offer);
  expect(ok.status).toBe(201);
  const location = ok.headers.get('location')!;
  const other = await host.presenter();
  expect((await post('/whip', sdpHeaders(busker), await other.offer())).status).toBe(409);
  const patch = (headers: Record<string, string>, body: string) => fetch(svc.url + location, { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag', ...headers }, body });
  expect((await patch({ 'if-match': '"stale"' }, 'a=end-of-candidates\r\n')).status).toBe(412);
  expect((await patch({ 'if-match': '*' }, 'a=ice-ufrag:new1\r\na=ice-pwd:newpasswordnewpasswordnew\r\n')).status).toBe(422); // ICE restart
  expect((await fetch(svc.url + location, { method: 'PATCH', headers: { 'content-type': 'text/plain' }, body: 'x' })).status).toBe(415);
  expect((await patch({}, 'a=end-of-candidates\r\n')).status).toBe(428); // no If-Match
  expect((await patch({ 'if-match': ok.headers.get('etag')! }, 'a=end-of-candidates\r\n')).status).toBe(204);
  // CORS preflight for a browser WHIP client.
  const pre = await fetch(`${svc.url}/whip`, { method: 'OPTIONS', headers: { origin: 'https://studio.example', 'access-control-request-method': 'POST' } });
  expect(pre.status).toBe(200);
  expect(pre.headers.get('link')).toBeNull(); // no ICE servers on a preflight
  expect(pre.headers.get('access-control-allow-origin')).toBe('*');
  expect(pre.headers.get('accept-post')).toBe('application/sdp');
  expect((await fetch(svc.url + location, { method: 'DELETE' })).status).toBe(200);
  await waitFor(async () => (await serverPipelines(svc)).length === 0, 10000, 'no pipelines');
  expect(svc.busks.stats()).toMatchObject({ busks: 0, viewers: 0 });
  expect(svc.whip.size).toBe(0);
  peer.close(); other.close();
});

test('a stream key (shown once, stored hashed) publishes over WHIP; rotating it retires the old one', async () => {
  const busker = await devToken(svc, 'Keyed', ['busker']);
  const auth = (t: string) => ({ authorization: `Bearer ${t}` });
  expect((await fetch(`${svc.url}/api/me/stream-key`, { method: 'POST' })).status).toBe(401);
  expect((await fetch(`${svc.url}/api/me/stream-key`, { method: 'POST', headers: auth(await devToken(svc, 'Fan')) })).status).toBe(403);
  expect(await (await fetch(`${svc.url}/api/me/stream-key`, { headers: auth(busker) })).json()).toEqual({ exists: false, createdAt: null });
  const made = await fetch(`${svc.url}/api/me/stream-key`, { method: 'POST', headers: auth(busker) });
  expect(made.status).toBe(201);
  const { key: first } = await made.json() as { key: string };
  expect(first).toMatch(/^bsk_[\w-]{43}$/);
  expect(await (await fetch(`${svc.url}/api/me/stream-key`, { headers: auth(busker) })).json()).toMatchObject({ exists: true });
  const rows = await (await svc.store.db()).query<{ key_hash: string }>('SELECT key_hash FROM stream_keys');
  expect(rows).toHaveLength(1);
  expect(rows[0]!.key_hash).not.toContain(first.slice(4));

  const publish = async (key: string) => {
    const peer = await host.presenter();
    const res = await fetch(`${svc.url}/whip?title=Keyed`, { method: 'POST', headers: sdpHeaders(key), body: await peer.offer() });
    peer.close();
    return res;
  };
  const one = await publish(first);
  expect(one.status).toBe(201);
  const [live] = await (await fetch(`${svc.url}/api/busks`)).json() as { id: string; owner: { name: string } }[];
  expect(live!.owner.name).toBe('Keyed');
  expect((await fetch(svc.url + one.headers.get('location'), { method: 'DELETE' })).status).toBe(200);

  const { key: second } = await (await fetch(`${svc.url}/api/me/stream-key`, { method: 'POST', headers: auth(busker) })).json() as { key: string };
  expect(second).not.toBe(first);
  const old = await publish(first);
  expect(old.status).toBe(401);
  expect(old.headers.get('www-authenticate')).toMatch(/^Bearer/);
  expect((await old.json() as { message: string }).message).toMatch(/rotated/);
  const two = await publish(second);
  expect(two.status).toBe(201);
  expect((await fetch(svc.url + two.headers.get('location'), { method: 'DELETE' })).status).toBe(200);
  expect((await fetch(`${svc.url}/api/me/stream-key`, { method: 'DELETE', headers: auth(busker) })).status).toBe(204);
  expect((await publish(second)).status).toBe(401);
  await waitFor(async () => (await serverPipelines(svc)).length === 0, 10000, 'no pipelines');
  expect(svc.busks.stats()).toMatchObject({ busks: 0, viewers: 0 });
});

// ICE consent (RFC 7675) expires 30 s after the last answered check: then the leg's transport is down,
// and after the viewer timeout (PRESENTER_GRACE_MS, at least 3 s) the session is ended.
test('a WHEP player that vanishes without DELETE is ended once ICE consent expires', async () => {
  const token = await devToken(svc, 'Gone', ['busker']);
  const presenter = await host.presenter();
  const res = await fetch(`${svc.url}/whip?title=Vanishing`, { method: 'POST', headers: sdpHeaders(token), body: await presenter.offer() });
  expect(res.status).toBe(201);
  await presenter.answer(await res.text()); // the engine's candidates are in the answer: no PATCH needed
  const [b] = await (await fetch(`${svc.url}/api/busks`)).json() as { id: string }[];
  const player = await host.viewer();
  const w = await fetch(`${svc.url}/whep/${b!.id}`, { method: 'POST', headers: sdpHeaders(), body: await player.offer() });
  expect(w.status).toBe(201);
  await player.answer(await w.text());
  await player.waitFrames(5);
  await waitFor(async () => (await busk(b!.id)).body.viewers === 1, 10000, 'one viewer');
  expect(svc.whip.size).toBe(2);
  player.close(); // no DELETE: the engine sees the transport go down
  await waitFor(async () => (await busk(b!.id)).body.viewers === 0, 60000, 'the vanished viewer uncounted', 500);
  expect(svc.whip.size).toBe(1);
  expect((await fetch(svc.url + w.headers.get('location'), { method: 'DELETE' })).status).toBe(404);
  expect((await fetch(svc.url + res.headers.get('location'), { method: 'DELETE' })).status).toBe(200);
  presenter.close();
  await waitFor(async () => (await serverPipelines(svc)).length === 0, 10000, 'no pipelines');
});

describe('a media server restart', () => {
  let engine: Awaited<ReturnType<typeof startMediaServer>>;
  let svc2: Service;
  const dir2 = fs.mkdtempSync(path.join(os.tmpdir(), 'whip-restart-'));
  beforeAll(async () => {
    engine = await startMediaServer({ port: 0, bindAddress: '127.0.0.1' });
    svc2 = await startTestService({ KMS_URLS: engine.url, DATA_DIR: dir2 });
  });
  afterAll(async () => { await svc2?.close(); await engine?.close(); fs.rmSync(dir2, { recursive: true, force: true }); });

  // A `reoffer` cannot reach an HTTP client: it reaches the WHIP/WHEP session, which ends (OBS and
  // WHEP players start a new session on their own), instead of waiting for an offer that never comes.
  test('ends the WHIP busk and the WHEP legs (they cannot reoffer); STOMP legs reoffer as before', async () => {
    const token = await devToken(svc2, 'Restart', ['busker']);
    const whipPeer = await host.presenter();
    const res = await fetch(`${svc2.url}/whip?title=OBS`, { method: 'POST', headers: sdpHeaders(token), body: await whipPeer.offer() });
    expect(res.status).toBe(201);
    await whipPeer.answer(await res.text());
    const [whipBusk] = await (await fetch(`${svc2.url}/api/busks`)).json() as { id: string }[];
    // A STOMP-presented busk with a WHEP player.
    const busker = await connect(svc2, await devToken(svc2, 'Stomp', ['busker']));
    const { buskId, inbox } = await startBusk(host, busker, { title: 'Browser' });
    const player = await host.viewer();
    const w = await fetch(`${svc2.url}/whep/${buskId}`, { method: 'POST', headers: sdpHeaders(), body: await player.offer() });
    expect(w.status).toBe(201);
    await player.answer(await w.text());
    await player.waitFrames(5);
    expect(svc2.whip.size).toBe(2);

    const port = engine.port;
    await engine.close();
    engine = await startMediaServer({ port, bindAddress: '127.0.0.1' });
    // The WHIP busk ends at once (not after the silence limit); the STOMP presenter is asked to reoffer.
    // (within 10 s: the silence limit, which would also end it, is 15 s)
    await waitFor(async () => (await fetch(`${svc2.url}/api/busks/${whipBusk!.id}`)).status === 404, 10000, 'the WHIP busk ended');
    await inbox.type('reoffer', 30000);
    const presenter2 = await host.presenter();
    await negotiate(busker, buskId, presenter2);
    // Its viewers are asked next: the WHEP session ends instead of holding a dead leg.
    await waitFor(() => svc2.whip.size === 0, 30000, 'the WHEP session ended');
    await waitFor(async () => ((await (await fetch(`${svc2.url}/api/busks/${buskId}`)).json()) as { viewers: number }).viewers === 0, 10000, 'no viewer counted');
    expect(await busker.request(`/app/busk.${buskId}.leave`, {})).toBe('ok');
    await waitFor(() => engine.stats.pipelines === 0, 10000, 'nothing left on the media server');
    await busker.close();
    for (const p of [whipPeer, player, presenter2]) p.close();
  });
});

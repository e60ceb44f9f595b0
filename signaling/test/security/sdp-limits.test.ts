// Issue 17 item 1: an anonymous SDP offer of ~600 m-lines (under the 64 KiB size cap) reached the
// media engine; ten of them stalled /healthz for 3 s and doubled the node's memory. Now an offer has
// at most a few media sections, lines and candidates (bad-request before any media server call), and
// offers run on a budget: a few per session in flight, a bounded number per node at once.
// Figures before/after: signaling/test/security/offer-flood.js.
import { startTestService, devToken, connect } from '../support/service';
import { startBusk, watchBusk, PeerHost } from '../support/peers';
import { rawTcp, frame, waitFor, RawClient } from '../stomp/helpers';
import { LIMITS, parseOffer } from '../../src/busk/validate';
import { OfferBudget } from '../../src/busk/budget';
import { AppError } from '../../src/stomp';
import type { Service } from '../../src/service';

jest.setTimeout(120000);

const FINGERPRINT = Array.from({ length: 32 }, (_, i) => (i + 16).toString(16).toUpperCase()).join(':');
const SESSION = ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=ice-ufrag:fl00', 'a=ice-pwd:floodfloodfloodfloodfl00', `a=fingerprint:sha-256 ${FINGERPRINT}`, 'a=setup:actpass'];
const section = (mid: number) => ['m=video 9 UDP/TLS/RTP/SAVPF 96', 'c=IN IP4 0.0.0.0', `a=mid:${mid}`, 'a=recvonly', 'a=rtcp-mux', 'a=rtpmap:96 VP8/90000'];
const sdp = (lines: string[]) => `${lines.join('\r\n')}\r\n`;

/** The flood of the issue: as many video sections as fit in the size cap (~600). */
function floodOffer(): string {
  const body: string[] = [];
  for (let i = 0; sdp([...SESSION, ...body, ...section(i)]).length < LIMITS.sdp; i++) body.push(...section(i));
  return sdp([...SESSION, ...body]);
}

describe('what an offer may contain', () => {
  test('the flood offer is ~600 m-lines under the size cap, and refused for its media sections', () => {
    const offer = floodOffer();
    expect(offer.length).toBeLessThan(LIMITS.sdp);
    expect((offer.match(/\nm=/g) ?? []).length).toBeGreaterThan(590);
    expect(() => parseOffer({ sdpOffer: offer })).toThrow(/media sections/);
  });

  test('audio + video (and a spare) pass; one more media section does not', () => {
    const ok = sdp([...SESSION, ...[0, 1, 2, 3].flatMap(section)]);
    expect(parseOffer({ sdpOffer: ok })).toBe(ok);
    expect(() => parseOffer({ sdpOffer: sdp([...SESSION, ...[0, 1, 2, 3, 4].flatMap(section)]) })).toThrow(/5 media sections/);
  });

  test('lines and candidates per offer are capped too', () => {
    const attrs = Array.from({ length: LIMITS.sdpLines }, (_, i) => `a=ssrc:${i} cname:x`);
    expect(() => parseOffer({ sdpOffer: sdp([...SESSION, ...section(0), ...attrs]) })).toThrow(/lines/);
    const cands = Array.from({ length: LIMITS.sdpCandidates + 1 }, (_, i) => `a=candidate:${i} 1 udp 2122260223 10.0.0.1 ${40000 + i} typ host`);
    expect(() => parseOffer({ sdpOffer: sdp([...SESSION, ...section(0), ...cands]) })).toThrow(/candidates/);
    try { parseOffer({ sdpOffer: sdp([...SESSION, ...section(0), ...cands]) }); } catch (e) { expect((e as AppError).code).toBe('bad-request'); }
  });
});

describe('the offer budget', () => {
  const deferred = () => { let resolve!: () => void; const p = new Promise<void>((r) => { resolve = r; }); return { p, resolve }; };

  test('a session has at most two offers in flight: the third is rate-limited', async () => {
    const b = new OfferBudget(16);
    const d = deferred();
    const one = b.run('s1', () => d.p);
    const two = b.run('s1', () => d.p);
    await expect(b.run('s1', async () => {})).rejects.toMatchObject({ code: 'rate-limited' });
    await expect(b.run('s2', async () => 'other session')).resolves.toBe('other session');
    d.resolve();
    await Promise.all([one, two]);
    await expect(b.run('s1', async () => 'again')).resolves.toBe('again');
  });

  test('a node runs `concurrency` at once, queues a bounded number, refuses beyond with unavailable', async () => {
    const b = new OfferBudget(2, 1);
    const gates = [deferred(), deferred(), deferred()];
    const started: number[] = [];
    const runs = gates.map((g, i) => b.run(`s${i}`, async () => { started.push(i); await g.p; }));
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect(b.stats).toEqual({ running: 2, waiting: 1 });
    await expect(b.run('s9', async () => {})).rejects.toMatchObject({ code: 'unavailable' });
    gates[0].resolve();
    await waitFor(() => started.length === 3);
    expect(b.stats).toEqual({ running: 2, waiting: 0 });
    gates[1].resolve(); gates[2].resolve();
    await Promise.all(runs);
    expect(b.stats).toEqual({ running: 0, waiting: 0 });
  });

  test('a failing offer gives its slot back', async () => {
    const b = new OfferBudget(1, 0);
    await expect(b.run('s', async () => { throw new AppError('media-error', 'x'); })).rejects.toMatchObject({ code: 'media-error' });
    await expect(b.run('s', async () => 'next')).resolves.toBe('next');
  });
});

describe('ten anonymous flood offers against a live busk', () => {
  let svc: Service;
  let host: PeerHost;
  beforeAll(async () => {
    svc = await startTestService();
    host = await PeerHost.start();
  });
  afterAll(async () => { host.stop(); await svc.close(); });

  test('are all refused with bad-request, create nothing on the media server, and /healthz answers', async () => {
    const busker = await connect(svc, await devToken(svc, 'Flo', ['busker']));
    const { buskId, presenter } = await startBusk(host, busker);
    const objectsBefore = svc.engine!.stats.objects;
    const offer = floodOffer();
    const guests = await Promise.all(Array.from({ length: 10 }, () => connect(svc)));
    const answers = await Promise.all(guests.map((g) => g.request(`/app/busk.${buskId}.offer`, { sdpOffer: offer })));
    for (const a of answers) expect(a).toMatchObject({ code: 'bad-request', message: expect.stringMatching(/media sections/) });
    expect(svc.engine!.stats.objects).toBe(objectsBefore);
    expect(svc.busks.stats().viewers).toBe(0);
    const health = await fetch(`${svc.url}/healthz`);
    expect(health.status).toBe(200);
    // A real viewer still joins after the flood.
    const fan = await connect(svc);
    const { viewer } = await watchBusk(host, fan, buskId);
    await viewer.waitFrames(3);
    viewer.close(); presenter.close();
    await Promise.all([...guests, fan, busker].map((c) => c.close()));
  });

  test('a burst of three offers from one session: the third is rate-limited before it reaches the media server', async () => {
    const busker = await connect(svc, await devToken(svc, 'Burst', ['busker']));
    const { buskId, presenter } = await startBusk(host, busker);
    const v1 = await host.viewer();
    const offer = await v1.offer();
    // One TCP write: the three SENDs are dispatched together, before any of them reached the engine.
    const c: RawClient = await rawTcp(svc.stompTcpPort!);
    c.send(frame('CONNECT', { 'accept-version': '1.2', host: 'x', 'heart-beat': '0,0' }));
    await c.next('CONNECTED');
    c.send(frame('SUBSCRIBE', { id: 'e', destination: '/user/queue/errors', receipt: 'sub' }));
    await c.next('RECEIPT');
    const send = (r: string) => frame('SEND', { destination: `/app/busk.${buskId}.offer`, 'content-type': 'application/json', receipt: r }, JSON.stringify({ sdpOffer: offer }));
    c.send(send('o1') + send('o2') + send('o3'));
    const err = await c.next('MESSAGE');
    expect(JSON.parse(err.body.toString())).toMatchObject({ code: 'rate-limited', receipt: 'o3' });
    const answered = (r: string) => c.frames.some((f) => f.headers['receipt-id'] === r || (f.command === 'MESSAGE' && JSON.parse(f.body.toString()).receipt === r));
    await waitFor(() => answered('o1') && answered('o2'), 20000, 'the other two offers answered');
    c.close();
    v1.close(); presenter.close();
    await busker.close();
  });
});

// Issue 17 item 8 (the busk service's part; heart-beat 0,0 is the broker's, stomp-idle-and-rate):
// chat was limited per session while guest sessions are free (40 guests × 5 messages all went
// through), pin moves had no limit and each fans out to every map viewer, one busker could hold
// many busks through many sessions, and ICE candidates after the endpoint existed were uncapped.
// Each limit is configurable and answers `rate-limited` on /user/queue/errors. The windows are ten
// minutes long: nothing here depends on how fast the machine is.
import { startTestService, devToken, connect } from '../support/service';
import { startBusk, PeerHost } from '../support/peers';
import type { StompTestClient } from '../support/stomp-client';
import { waitFor } from '../../../test-support/ports';
import type { Service } from '../../src/service';

jest.setTimeout(120000);

const LIMITS = {
  CHAT_RATE: '2/10m', CHAT_RATE_PER_ADDRESS: '5/10m', LOCATION_RATE: '3/10m', BUSKS_PER_BUSKER: '2', ICE_CANDIDATES_PER_LEG: '5',
};

describe('abuse limits of the busk service', () => {
  let svc: Service;
  let host: PeerHost;
  let busker: StompTestClient;
  let buskId: string;
  const open: StompTestClient[] = [];
  const client = async (token?: string) => { const c = await connect(svc, token); open.push(c); return c; };
  beforeAll(async () => {
    svc = await startTestService(LIMITS);
    host = await PeerHost.start();
    busker = await client(await devToken(svc, 'Lim', ['busker']));
    const started = await startBusk(host, busker, { title: 'Limits', location: { lat: 38.7, lng: -9.1 } });
    buskId = started.buskId;
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.close()));
    host.stop();
    await svc.close();
  });

  const say = (c: StompTestClient, text: string) => c.request(`/app/busk.${buskId}.chat`, { text });

  test('guests: each session has CHAT_RATE, and all guests of one address together CHAT_RATE_PER_ADDRESS', async () => {
    const guests = await Promise.all(Array.from({ length: 8 }, () => client()));
    const answers = [];
    for (const g of guests) answers.push(await say(g, 'hi'));
    expect(answers.slice(0, 5)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    for (const a of answers.slice(5)) expect(a).toMatchObject({ code: 'rate-limited', message: expect.stringMatching(/one address/) });
  });

  test('a signed-in user has CHAT_RATE over all their sessions (and no per-address limit)', async () => {
    const token = await devToken(svc, 'Chatty');
    const [s1, s2] = [await client(token), await client(token)];
    expect(await say(s1, 'one')).toBe('ok');
    expect(await say(s2, 'two')).toBe('ok');
    expect(await say(s2, 'three')).toMatchObject({ code: 'rate-limited' });
    expect(await say(s1, 'four')).toMatchObject({ code: 'rate-limited' });
    // Another signed-in user on the same address is not held back by the guests above.
    expect(await say(await client(await devToken(svc, 'Other')), 'hello')).toBe('ok');
  });

  test('pin moves: LOCATION_RATE per busker, then rate-limited; the map hears only the allowed ones', async () => {
    const watcher = await client();
    const map = await watcher.subscribeSync('/topic/busks');
    for (let i = 1; i <= 3; i++) expect(await busker.request(`/app/busk.${buskId}.location`, { lat: 38.7 + i / 1000, lng: -9.1 })).toBe('ok');
    expect(await busker.request(`/app/busk.${buskId}.location`, { lat: 39, lng: -9 })).toMatchObject({ code: 'rate-limited' });
    await map.next((m) => m.body?.type === 'updated' && m.body.busk.location?.lat === 38.703);
    expect(map.messages.filter((m) => m.body?.type === 'updated' && m.body.busk.location?.lat === 39)).toEqual([]);
  });

  test('ICE candidates: ICE_CANDIDATES_PER_LEG per leg, also after the endpoint exists', async () => {
    const candidate = (i: number) => ({ candidate: { candidate: `candidate:${i} 1 udp 2122260223 127.0.0.1 ${51000 + i} typ host`, sdpMid: '0', sdpMLineIndex: 0 } });
    // The presenter's leg has its endpoint (startBusk waited for the answer); its own trickled
    // candidates count too, so the cap is reached within five more.
    const answers: unknown[] = [];
    for (let i = 0; i < 6; i++) answers.push(await busker.request(`/app/busk.${buskId}.ice`, candidate(i)));
    expect(answers).toContainEqual(expect.objectContaining({ code: 'rate-limited', message: expect.stringMatching(/ICE candidates/) }));
  });

  test('busks: BUSKS_PER_BUSKER live at once per busker, over all sessions, also when they start together', async () => {
    const token = await devToken(svc, 'Many', ['busker']);
    const sessions = await Promise.all(Array.from({ length: 5 }, () => client(token)));
    const answers = await Promise.all(sessions.map((s) => s.request('/app/busk.start', { title: 'One of many' })));
    expect(answers.filter((a) => a === 'ok').length).toBeLessThanOrEqual(2);
    for (const a of answers.filter((x) => x !== 'ok')) expect(a).toMatchObject({ code: 'rate-limited', message: expect.stringMatching(/live busks/) });
    const live = (await (await fetch(`${svc.url}/api/busks`)).json()) as { owner: { id: string } }[];
    expect(live.filter((b) => b.owner.id === 'dev-many').length).toBeLessThanOrEqual(2);
    // One by one: the third is refused, and ending one makes room.
    const liveOfMany = async () => ((await (await fetch(`${svc.url}/api/busks`)).json()) as { owner: { id: string } }[]).filter((b) => b.owner.id === 'dev-many').length;
    await Promise.all(sessions.filter((_, i) => answers[i] === 'ok').map((c) => c.close())); // DISCONNECT: never-presented busks end at once
    await waitFor(async () => (await liveOfMany()) === 0, 10000, 'the burst\'s busks ended');
    const [x, y, z] = await Promise.all([client(token), client(token), client(token)]);
    expect(await x.request('/app/busk.start', { title: 'First' })).toBe('ok');
    expect(await y.request('/app/busk.start', { title: 'Second' })).toBe('ok');
    expect(await z.request('/app/busk.start', { title: 'Third' })).toMatchObject({ code: 'rate-limited' });
    await x.close();
    await waitFor(async () => (await liveOfMany()) === 1, 10000, 'the first busk ended');
    expect(await z.request('/app/busk.start', { title: 'Room again' })).toBe('ok');
  });
});

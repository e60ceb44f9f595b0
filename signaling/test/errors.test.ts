// Auth, permissions and every bad input: a clear error on /user/queue/errors, nothing else changes.
import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import { startTestService, devToken, connect, TEST_SECRET, serverPipelines } from './support/service';
import { StompTestClient } from './support/stomp-client';
import { startBusk, PeerHost, watchBusk } from './support/peers';
import type { Service } from '../src/service';
import type { Principal } from '../src/stomp';
import { waitFor } from '../../test-support/ports';

jest.setTimeout(120000);

function b64(o: unknown) { return Buffer.from(JSON.stringify(o)).toString('base64url'); }

describe('auth at CONNECT (HS256)', () => {
  let svc: Service;
  beforeAll(async () => { svc = await startTestService(); });
  afterAll(async () => { await svc.close(); });

  const refused = async (token: string) => {
    await expect(StompTestClient.connect(svc.stompUrl, { token })).rejects.toThrow(/unauthorized/);
  };

  it('refuses forged, alg:none, expired and garbage tokens with ERROR unauthorized', async () => {
    await refused(jwt.sign({ sub: 'x', roles: ['busker'] }, 'not-the-secret', { algorithm: 'HS256' }));
    await refused(`${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'x', roles: ['ops'] })}.`);
    await refused(jwt.sign({ sub: 'x', exp: Math.floor(Date.now() / 1000) - 5 }, TEST_SECRET, { algorithm: 'HS256' }));
    await refused('not.a.jwt');
    await expect(StompTestClient.connect(svc.stompUrl, { headers: { Authorization: 'Basic abc' } })).rejects.toThrow(/unauthorized/);
  });

  it('accepts passcode tokens and anonymous sessions', async () => {
    const opened: Array<Principal | null> = [];
    const onOpen = (s: { principal: Principal | null }) => opened.push(s.principal);
    svc.broker.on('session-open', onOpen);
    try {
      const c = await StompTestClient.connect(svc.stompUrl, { token: await devToken(svc, 'Pat', ['busker']), asPasscode: true });
      const a = await connect(svc);
      // session-open fires in the tick that writes CONNECTED: both principals are known here.
      expect(opened).toHaveLength(2);
      expect(opened[0]).toMatchObject({ name: 'Pat', anonymous: false });
      expect(opened[0]!.roles).toContain('busker');
      expect(opened[1]).toMatchObject({ anonymous: true });
      expect(opened[1]!.roles).not.toContain('busker');
      expect(c.closed || a.closed).toBe(false);
      await c.close(); await a.close();
    } finally {
      svc.broker.off('session-open', onOpen);
    }
  });

  it('ends a session whose token expires, unless refreshed', async () => {
    // One expiry for both, so both would go in the same sweep unless refreshed.
    const exp = Math.floor(Date.now() / 1000) + 2;
    const short = jwt.sign({ sub: 'short', name: 'Short', exp }, TEST_SECRET, { algorithm: 'HS256' });
    const c = await connect(svc, short);
    const r = await connect(svc, jwt.sign({ sub: 'short2', exp }, TEST_SECRET, { algorithm: 'HS256' }));
    expect(await r.request('/app/auth.refresh', { token: jwt.sign({ sub: 'short2', exp: Math.floor(Date.now() / 1000) + 60 }, TEST_SECRET, { algorithm: 'HS256' }) })).toBe('ok');
    // someone else's token is refused
    expect(await r.request('/app/auth.refresh', { token: await devToken(svc, 'Other') })).toMatchObject({ code: 'forbidden' });
    // Waits for the expiry to close `c` (an event, bounded), not for a fixed time.
    await waitFor(() => c.closed, 10000, 'the expired session to close');
    expect(r.closed).toBe(false);
    expect(await r.request('/app/auth.refresh', { token: jwt.sign({ sub: 'short2', exp: Math.floor(Date.now() / 1000) + 60 }, TEST_SECRET, { algorithm: 'HS256' }) })).toBe('ok');
    await r.close();
  });
});

describe('key confusion (RS256 service)', () => {
  let svc: Service;
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  beforeAll(async () => { svc = await startTestService({ JWT_SECRET: '', JWT_PUBLIC_KEY: pem, DEV_TOKENS: 'false' }); });
  afterAll(async () => { await svc.close(); });

  it('accepts RS256 and refuses HS256 signed with the public key', async () => {
    const ok = await connect(svc, jwt.sign({ sub: 'r', roles: ['busker'] }, privateKey, { algorithm: 'RS256', expiresIn: 600 }));
    await ok.close();
    const header = b64({ alg: 'HS256', typ: 'JWT' });
    const payload = b64({ sub: 'evil', roles: ['ops'], exp: Math.floor(Date.now() / 1000) + 600 });
    const sig = crypto.createHmac('sha256', pem).update(`${header}.${payload}`).digest('base64url');
    await expect(StompTestClient.connect(svc.stompUrl, { token: `${header}.${payload}.${sig}` })).rejects.toThrow(/unauthorized/);
    const res = await fetch(`${svc.url}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"x"}' });
    expect(res.status).toBe(404);
  });
});

describe('anonymous viewing off', () => {
  it('refuses sessions without a token', async () => {
    const svc = await startTestService({ ANONYMOUS_VIEWING: 'false' });
    await expect(StompTestClient.connect(svc.stompUrl)).rejects.toThrow(/unauthorized/);
    await svc.close();
  });
});

describe('bad inputs and permissions', () => {
  let svc: Service;
  let host: PeerHost;
  let busker: StompTestClient;
  let buskId: string;
  beforeAll(async () => {
    svc = await startTestService({ CHAT_RATE: '3/10s', CHAT_MAX_LENGTH: '20' });
    host = await PeerHost.start();
    busker = await connect(svc, await devToken(svc, 'Ann', ['busker']));
  });
  afterAll(async () => { host.stop(); await busker.close(); await svc.close(); });

  it('refuses busk.start without the busker role and bad start bodies', async () => {
    const anon = await connect(svc);
    expect(await anon.request('/app/busk.start', { title: 'x' })).toMatchObject({ code: 'forbidden', destination: '/app/busk.start' });
    const fan = await connect(svc, await devToken(svc, 'Fan'));
    expect(await fan.request('/app/busk.start', { title: 'x' })).toMatchObject({ code: 'forbidden' });
    expect(await busker.request('/app/busk.start', { title: '' })).toMatchObject({ code: 'bad-request' });
    expect(await busker.request('/app/busk.start', '{"title": ')).toMatchObject({ code: 'bad-request' });
    expect(await busker.request('/app/busk.start', { title: 'x', hashtags: ['<b>'] })).toMatchObject({ code: 'bad-request' });
    expect(await busker.request('/app/busk.start', { title: 'x', location: { lat: 91, lng: 0 } })).toMatchObject({ code: 'bad-request' });
    expect(await busker.request('/app/busk.start', { title: 'x'.repeat(500) })).toMatchObject({ code: 'bad-request' });
    expect((await (await fetch(`${svc.url}/api/busks`)).json())).toEqual([]);
    await anon.close(); await fan.close();
  });

  it('refuses what the destination rules forbid', async () => {
    const anon = await connect(svc);
    anon.subscribe('/topic/ops.turn');
    expect((await anon.errors.next((m) => m.body.code === 'forbidden')).body.code).toBe('forbidden');
    anon.send('/topic/busks', { type: 'live', busk: {} });
    await anon.errors.next((m) => m.body.code === 'forbidden' && m.body.destination === '/topic/busks');
    const ops = await connect(svc, await devToken(svc, 'Op', ['ops']));
    expect(await ops.subscribeSync('/topic/ops.turn')).toBeTruthy();
    expect(ops.errors.messages).toEqual([]);
    await anon.close(); await ops.close();
  });

  it('viewer before presenter, unknown busk, garbage SDP, second presenter, non-owner end', async () => {
    const earlyBusker = await connect(svc, await devToken(svc, 'Eve', ['busker']));
    const q = await earlyBusker.subscribeSync('/user/queue/busk');
    expect(await earlyBusker.request('/app/busk.start', { title: 'Early' })).toBe('ok');
    const early = (await q.type('started')).buskId;
    const fan = await connect(svc);
    const viewerPeer = await host.viewer();
    const sdp = await viewerPeer.offer();
    expect(await fan.request(`/app/busk.${early}.offer`, { sdpOffer: sdp })).toMatchObject({ code: 'conflict' });
    expect(await fan.request('/app/busk.nope.offer', { sdpOffer: sdp })).toMatchObject({ code: 'not-found' });
    expect(await fan.request('/app/busk.nope.chat', { text: 'hi' })).toMatchObject({ code: 'not-found' });
    expect(await fan.request(`/app/busk.${early}.offer`, { sdpOffer: 'hello' })).toMatchObject({ code: 'bad-request' });
    expect(await earlyBusker.request(`/app/busk.${early}.offer`, { sdpOffer: 'v=0\r\nm=video 9 garbage\r\n' })).toMatchObject({ code: 'media-error' });
    expect(await serverPipelines(svc)).toEqual([]); // the failed first offer left nothing behind
    expect(await earlyBusker.request(`/app/busk.${early}.offer`, { sdpOffer: 'v=0\n' + 'a=x\n'.repeat(20000) + 'm=video 1\n' })).toMatchObject({ code: 'bad-request' });
    expect(await fan.request(`/app/busk.${early}.offer`, '{not json')).toMatchObject({ code: 'bad-request' });
    expect(await fan.request(`/app/busk.${early}.ice`, { candidate: 'x' })).toMatchObject({ code: 'bad-request' });
    // the busk still works after all of that
    const { buskId: live, presenter } = await startBusk(host, busker, { title: 'Live' });
    buskId = live;
    const second = await connect(svc, await devToken(svc, 'Ann', ['busker'])); // same user, other session
    const p2 = await host.presenter();
    expect(await second.request(`/app/busk.${live}.offer`, { sdpOffer: await p2.offer() })).toMatchObject({ code: 'conflict' });
    const other = await connect(svc, await devToken(svc, 'Bob', ['busker']));
    expect(await other.request(`/app/busk.${live}.leave`, {})).toMatchObject({ code: 'conflict' });
    expect(await other.request(`/app/busk.${live}.location`, { lat: 1, lng: 1 })).toMatchObject({ code: 'forbidden' });
    const { viewer } = await watchBusk(host, fan, live);
    await viewer.waitFrames(5);
    expect((await (await fetch(`${svc.url}/api/busks/${live}`)).json())).toMatchObject({ id: live, viewers: 1 });
    presenter.close(); viewer.close(); p2.close(); viewerPeer.close();
    await second.close(); await other.close(); await fan.close();
    await earlyBusker.close(); // DISCONNECT: its busk (never presented) ends at once
    const list = (await (await fetch(`${svc.url}/api/busks`)).json()) as { id: string }[];
    expect(list.map((b) => b.id)).toEqual([live]);
  });

  it('chat: data not markup, limits, anonymous labels, replay to new subscribers', async () => {
    const anon = await connect(svc);
    const chat = await anon.subscribeSync(`/topic/busk.${buskId}.chat`);
    expect(await anon.request(`/app/busk.${buskId}.chat`, { text: '<img src=x onerror=alert(1)>' })).toMatchObject({ code: 'bad-request' }); // > 20 chars
    expect(await anon.request(`/app/busk.${buskId}.chat`, { text: '<b>hi</b>' })).toBe('ok');
    const m = await chat.next();
    expect(m.body).toMatchObject({ text: '<b>hi</b>', from: { anonymous: true } });
    expect(m.body.from.name).toMatch(/^guest-\d{4}$/);
    expect(await anon.request(`/app/busk.${buskId}.chat`, { text: 'two' })).toBe('ok');
    expect(await anon.request(`/app/busk.${buskId}.chat`, { text: 'three' })).toBe('ok');
    expect(await anon.request(`/app/busk.${buskId}.chat`, { text: 'four' })).toMatchObject({ code: 'rate-limited' });
    await chat.next((x) => x.body.text === 'three');
    const names = new Set(chat.messages.map((x) => x.body.from.name));
    expect(names.size).toBe(1); // stable label per session
    expect(await busker.request(`/app/busk.${buskId}.chat`, { text: 'thanks!' })).toBe('ok');
    const late = await connect(svc);
    const replay = late.subscribe(`/topic/busk.${buskId}.chat`);
    await replay.next((x) => x.body.text === 'thanks!');
    expect(replay.messages.map((x) => x.body.text)).toEqual(['<b>hi</b>', 'two', 'three', 'thanks!']);
    expect(replay.messages[3].body.from).toMatchObject({ name: 'Ann', anonymous: false });
    await anon.close(); await late.close();
  });

  it('ends the busk on owner leave; nothing left on the media server', async () => {
    expect(await busker.request(`/app/busk.${buskId}.leave`, {})).toBe('ok');
    const pipes = await serverPipelines(svc);
    // the never-presented busk "Early" has no pipeline; the live one is gone
    expect(pipes).toEqual([]);
  });
});

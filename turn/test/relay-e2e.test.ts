// Issue 6, end to end: a headless Chromium viewer restricted to relay candidates
// (iceTransportPolicy "relay") watches a busk from the embedded media engine through a real coturn,
// with the short-lived credentials it got from GET /api/ice-servers. What is checked:
// - the page decodes frames (getStats inbound-rtp framesDecoded grows) and its selected candidate
//   pair's local candidate is a relay candidate on our coturn (and every candidate it gathered is);
// - coturn really relayed them: the service's own monitor (TURN_LOG = coturn's log, read through
//   GET /api/ops/turn and /topic/ops.turn) shows an active session for the credential's username
//   with a peer permission, and when the viewer leaves, the session's end with relayed bytes (at
//   least every RTP byte the page received, both on coturn's peer side and its client side);
// - with a wrong TURN secret on the service side, coturn refuses the credentials: the relay-only
//   viewer never connects nor decodes a frame (watched for 10 s after the 401), the page sees a 401
//   on its TURN server, and the monitor counts the authentication failure under the handed-out
//   username, classifies it as a wrong secret and explains it (diagnosis "wrong-secret").
//
// Topology (all on 127.0.0.1): the presenter is a Node wrtc peer (PeerHost, host candidates) sending
// straight to the engine; the viewer is Chromium ⇄ coturn (UDP) ⇄ engine. coturn must allow loopback
// peers (turnserver.local.conf has allow-loopback-peers) since the engine's candidates are 127.0.0.1.
//
// Chromium needs no special flag for TURN on 127.0.0.1: the TURN server address may be loopback
// (Chromium binds its TURN socket to a real interface, eth0 here, and the kernel routes to lo).
// --disable-features=WebRtcHideLocalIpsWithMdns is passed anyway so that a failure report lists real
// addresses; with iceTransportPolicy "relay" host candidates are never signalled.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../../test-support/browser';
import { startCoturn, StartedCoturn } from '../../test-support/coturn';
import { waitFor } from '../../test-support/ports';
import { startTestService, devToken, connect } from '../../signaling/test/support/service';
import { PeerHost, startBusk } from '../../signaling/test/support/peers';
import { StompTestClient } from '../../signaling/test/support/stomp-client';
import type { Service } from '../../signaling/src/service';
import type { TurnSnapshot } from '../src/monitor';

jest.setTimeout(180000);

declare const window: any; // eslint-disable-line @typescript-eslint/no-explicit-any

const SECRET = 'relay-e2e-turn-secret';
const REALM = 'busking.local';
const ROOT = path.resolve(__dirname, '..', '..');

// The viewer harness: plain browser JS (not evaluated TypeScript), with @stomp/stompjs's UMD bundle
// served next to it. window.startViewer runs the busking protocol (PROTOCOL.md) as a viewer; the
// test reads window.relayStats().
// The page and its script are separate files: the service's Content-Security-Policy runs no inline script.
const HARNESS_HTML = `<!doctype html><html><head><meta charset="utf-8"><title>relay viewer</title>
<script src="stomp.umd.min.js"></script></head>
<body><video id="v" autoplay muted playsinline></video><script src="relay-viewer.js"></script></body></html>
`;
const HARNESS_JS = `
window.startViewer = async function (o) {
  var st = window.state = { buskId: o.buskId, turnUser: null, iceServers: null, gathered: [], remoteCandidates: 0, iceStates: [],
    candidateErrors: [], stompErrors: [], answered: false };
  var auth = o.token ? { authorization: 'Bearer ' + o.token } : {};
  var res = await fetch('/api/ice-servers', { headers: auth, cache: 'no-store' });
  st.iceServers = await res.json();
  var turn = st.iceServers.find(function (s) { return s.username; });
  st.turnUser = turn ? turn.username : null;
  var pc = window.pc = new RTCPeerConnection({ iceServers: st.iceServers, iceTransportPolicy: 'relay' });
  pc.oniceconnectionstatechange = function () { st.iceStates.push(pc.iceConnectionState); };
  pc.onicecandidateerror = function (e) { st.candidateErrors.push({ url: e.url, code: e.errorCode, text: e.errorText }); };
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.ontrack = function (e) {
    var v = document.getElementById('v');
    v.srcObject = new MediaStream([e.track]);
    v.play().catch(function () {});
  };
  var client = window.stomp = new StompJs.Client({
    brokerURL: location.origin.replace(/^http/, 'ws') + '/stomp',
    connectHeaders: o.token ? { passcode: o.token } : {},
    reconnectDelay: 0, heartbeatIncoming: 0, heartbeatOutgoing: 0,
  });
  await new Promise(function (resolve, reject) {
    client.onConnect = resolve;
    client.onStompError = function (f) { reject(new Error('STOMP ERROR ' + f.headers.message)); };
    client.onWebSocketClose = function () { reject(new Error('socket closed')); };
    client.activate();
  });
  var pending = [];
  var add = function (c) { st.remoteCandidates++; pc.addIceCandidate(c).catch(function (e) { st.stompErrors.push('addIceCandidate: ' + e); }); };
  client.subscribe('/user/queue/errors', function (m) { st.stompErrors.push(m.body); });
  client.subscribe('/user/queue/busk.' + o.buskId, function (m) {
    var b = JSON.parse(m.body);
    if (b.type === 'answer') {
      pc.setRemoteDescription({ type: 'answer', sdp: b.sdpAnswer }).then(function () {
        st.answered = true;
        pending.splice(0).forEach(add);
      }, function (e) { st.stompErrors.push('setRemoteDescription: ' + e); });
    } else if (b.type === 'ice') {
      if (st.answered) add(b.candidate); else pending.push(b.candidate);
    }
  });
  pc.onicecandidate = function (e) {
    if (!e.candidate || !e.candidate.candidate) return;
    st.gathered.push(e.candidate.candidate);
    client.publish({ destination: '/app/busk.' + o.buskId + '.ice',
      body: JSON.stringify({ candidate: { candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex } }) });
  };
  var offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  client.publish({ destination: '/app/busk.' + o.buskId + '.offer', body: JSON.stringify({ sdpOffer: offer.sdp }) });
  return { iceServers: st.iceServers, turnUser: st.turnUser };
};
window.relayStats = async function () {
  var pc = window.pc;
  var stats = await pc.getStats();
  var out = { framesDecoded: 0, bytesReceived: 0, ice: pc.iceConnectionState, connection: pc.connectionState,
    local: null, remote: null, state: window.state };
  var transport = null;
  stats.forEach(function (s) {
    if (s.type === 'inbound-rtp' && s.kind === 'video') { out.framesDecoded = s.framesDecoded || 0; out.bytesReceived = s.bytesReceived || 0; }
    if (s.type === 'transport') transport = s;
  });
  var pair = transport && transport.selectedCandidatePairId ? stats.get(transport.selectedCandidatePairId) : null;
  var pick = function (c) { return c ? { type: c.candidateType, address: c.address, port: c.port, protocol: c.protocol, relayProtocol: c.relayProtocol, url: c.url } : null; };
  if (pair) { out.local = pick(stats.get(pair.localCandidateId)); out.remote = pick(stats.get(pair.remoteCandidateId)); }
  return out;
};
`;

interface RelayStats {
  framesDecoded: number;
  bytesReceived: number;
  ice: string;
  connection: string;
  local: { type: string; address: string; port: number; protocol: string; relayProtocol?: string; url?: string } | null;
  remote: { type: string; address: string; port: number; protocol: string } | null;
  state: { turnUser: string | null; gathered: string[]; remoteCandidates: number; iceStates: string[];
    candidateErrors: Array<{ url: string; code: number; text: string }>; stompErrors: string[]; answered: boolean };
}

let coturn: StartedCoturn;
let browser: Browser;
let host: PeerHost;
let webDir: string;
const services: Service[] = [];
const clients: StompTestClient[] = [];
const contexts: BrowserContext[] = [];
const t0 = Date.now();
const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

beforeAll(async () => {
  webDir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-e2e-'));
  fs.writeFileSync(path.join(webDir, 'relay-viewer.html'), HARNESS_HTML);
  fs.writeFileSync(path.join(webDir, 'relay-viewer.js'), HARNESS_JS);
  fs.copyFileSync(path.join(ROOT, 'node_modules', '@stomp', 'stompjs', 'bundles', 'stomp.umd.min.js'), path.join(webDir, 'stomp.umd.min.js'));
  // new-log-timestamp: absolute times on coturn's lines, so the monitor does not guess from uptime.
  coturn = await startCoturn({ secret: SECRET, realm: REALM, newLogTimestamp: true });
  host = await PeerHost.start();
  browser = await launchChromium(['--disable-features=WebRtcHideLocalIpsWithMdns']);
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  for (const c of clients) await c.close().catch(() => undefined);
  host?.stop();
  for (const s of services) await s.close().catch(() => undefined);
  await coturn?.stop();
  if (webDir) fs.rmSync(webDir, { recursive: true, force: true });
});

/** The whole service with the embedded engine, handing out coturn credentials made with `secret`. */
async function service(secret: string): Promise<Service> {
  const svc = await startTestService({
    STOMP_TCP_PORT: '-1', TURN_URLS: `turn:127.0.0.1:${coturn.port}?transport=udp`, TURN_SECRET: secret,
    TURN_TTL_S: '600', TURN_LOG: coturn.logFile,
  }, { webDir });
  services.push(svc);
  return svc;
}

/** A Node wrtc presenter goes live on `svc` over STOMP; resolves with the busk id once media flows. */
async function goLive(svc: Service, title: string): Promise<string> {
  const busker = await connect(svc, await devToken(svc, `Busker ${title}`, ['busker']));
  clients.push(busker);
  const { buskId } = await startBusk(host, busker, { title });
  const topic = await busker.subscribeSync(`/topic/busk.${buskId}`);
  const flowing = async () => (await (await fetch(`${svc.url}/api/busks/${buskId}`)).json() as { media: string }).media === 'flowing'
    || topic.messages.some((m) => m.body?.type === 'media' && m.body.state === 'flowing');
  await waitFor(flowing, 30000, 'the presenter\'s media to flow', 200);
  return buskId;
}

async function viewerPage(svc: Service, buskId: string, token: string): Promise<{ page: Page; turnUser: string; iceServers: any[] }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const ctx = await browser.newContext();
  contexts.push(ctx);
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${svc.url}/relay-viewer.html`);
  const r = await page.evaluate((o) => window.startViewer(o), { buskId, token });
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  return { page, ...r };
}

const stats = (page: Page): Promise<RelayStats> => page.evaluate(() => window.relayStats());

async function turnSnapshot(svc: Service, opsToken: string): Promise<TurnSnapshot> {
  const res = await fetch(`${svc.url}/api/ops/turn`, { headers: { authorization: `Bearer ${opsToken}` } });
  if (res.status !== 200) throw new Error(`/api/ops/turn: ${res.status} ${await res.text()}`);
  return (await res.json()) as TurnSnapshot;
}

const coturnLog = () => fs.readFileSync(coturn.logFile, 'utf8');

test('a relay-only Chromium viewer decodes the busk through coturn, and the monitor sees the relayed bytes', async () => {
  const svc = await service(SECRET);
  const buskId = await goLive(svc, 'Relay jazz');
  const opsToken = await devToken(svc, 'Ops', ['ops']);
  const viewerToken = await devToken(svc, 'Relay Viewer');
  // Ops watch the monitor's event stream over STOMP too (what the ops page shows live).
  const ops = await connect(svc, opsToken);
  clients.push(ops);
  const opsEvents = await ops.subscribeSync('/topic/ops.turn');
  console.log(`[relay-e2e] ${since()}: service up, busk ${buskId} flowing`);

  const { page, turnUser, iceServers } = await viewerPage(svc, buskId, viewerToken);
  // /api/ice-servers: our coturn's URL with a shared-secret credential for this viewer, never the secret.
  expect(iceServers).toEqual([{ urls: [`turn:127.0.0.1:${coturn.port}?transport=udp`], username: expect.stringMatching(/^\d{10}:dev-relay-viewer$/), credential: expect.any(String) }]);
  expect(JSON.stringify(iceServers)).not.toContain(SECRET);

  let s: RelayStats | null = null;
  try {
    await waitFor(async () => { s = await stats(page); return s.framesDecoded > 0; }, 45000, 'the relay-only viewer to decode frames', 250);
  } catch (e) {
    throw new Error(`${(e as Error).message}\npage: ${JSON.stringify(s)}\ncoturn log tail:\n${coturnLog().split('\n').slice(-40).join('\n')}`);
  }
  console.log(`[relay-e2e] ${since()}: first frames decoded through the relay`);
  const first = (s as unknown as RelayStats).framesDecoded;
  await waitFor(async () => { s = await stats(page); return s.framesDecoded > first + 10; }, 20000, 'decoded frames to keep growing', 250);
  const r = s as unknown as RelayStats;
  expect(r.ice === 'connected' || r.ice === 'completed').toBe(true);
  // The selected pair goes through our coturn: the local side is a relay candidate allocated over UDP.
  expect(r.local).toMatchObject({ type: 'relay', address: '127.0.0.1', relayProtocol: 'udp' });
  expect(r.remote?.address).toBe('127.0.0.1'); // the engine's own candidate, reached from coturn's relay address
  expect(r.state.gathered.length).toBeGreaterThan(0);
  for (const c of r.state.gathered) expect(c).toMatch(/ typ relay /);
  expect(r.state.candidateErrors).toEqual([]);

  // coturn relayed it: the in-service monitor (following coturn's log) has the viewer's allocation,
  // with a permission for the engine's address.
  let snap: TurnSnapshot | null = null;
  const viewerSession = () => snap?.activeSessions.find((a) => a.user === turnUser);
  await waitFor(async () => { snap = await turnSnapshot(svc, opsToken); return viewerSession(); }, 20000, `an active TURN session for ${turnUser}`, 250);
  // (coturn names the client address and transport only in its closing lines: checked below.)
  expect(viewerSession()).toMatchObject({ realm: REALM, ageSeconds: expect.any(Number) });
  expect(viewerSession()!.peers).toBeGreaterThan(0); // a permission for the engine's address
  expect(snap!.authFailures.byUser[turnUser] ?? 0).toBe(0);
  expect((await opsEvents.next((m) => m.body?.type === 'session-started' && m.body.user === turnUser, 10000)).body.realm).toBe(REALM);
  console.log(`[relay-e2e] ${since()}: monitor has the session ${viewerSession()!.id}`);

  // coturn 4.6 writes a session's usage lines (rp/rb/sp/sb, client and peer side) only once every
  // few thousand packets and when it closes, so the relayed bytes are read at the end: the viewer leaves, its
  // allocation is released (Refresh lifetime 0), and ops get the session's end with the client
  // address coturn saw and the bytes it relayed between the engine and the viewer.
  await page.evaluate(() => { window.pc.close(); window.stomp.publish({ destination: `/app/busk.${window.state.buskId}.leave`, body: '{}' }); });
  let ended: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    ended = (await opsEvents.next((m) => m.body?.type === 'session-ended' && m.body.user === turnUser, 30000)).body;
  } catch (e) {
    throw new Error(`${(e as Error).message}\ncoturn log lines for ${turnUser}:\n${coturnLog().split('\n').filter((l) => l.includes(turnUser)).slice(-20).join('\n')}`);
  }
  // (coturn 4.6 names no transport for a UDP allocation: only TCP sessions have socket lines.)
  expect(ended).toMatchObject({ realm: REALM, clientAddress: expect.stringMatching(/^[\d.]+:\d+$/) });
  expect(ended.relayedBytes).toBe(ended.peer.rb + ended.peer.sb);
  // Every RTP payload byte the page counted came through coturn: in from the engine (peer side)
  // and out to the viewer (client side), with packet headers on top.
  expect(ended.peer.rb).toBeGreaterThan(r.bytesReceived);
  expect(ended.client.sb).toBeGreaterThan(r.bytesReceived);
  await waitFor(async () => { snap = await turnSnapshot(svc, opsToken); return !viewerSession(); }, 10000, 'the session to leave the active list', 250);
  expect(snap!.totals.relayedBytes).toBeGreaterThanOrEqual(ended.relayedBytes);
  console.log(`[relay-e2e] ${since()}: session ended: ${JSON.stringify(ended)}`);
});

test('with a wrong TURN secret on the service, the relay-only viewer gets no media and the monitor shows the 401s', async () => {
  const svc = await service('not-the-coturn-secret');
  const buskId = await goLive(svc, 'Wrong secret');
  const opsToken = await devToken(svc, 'Ops', ['ops']);
  const { page, turnUser } = await viewerPage(svc, buskId, await devToken(svc, 'Unlucky Viewer'));
  expect(turnUser).toMatch(/^\d{10}:dev-unlucky-viewer$/);

  // coturn answers the allocation with 401 (the HMAC does not match): the page hears about it.
  await waitFor(async () => (await stats(page)).state.candidateErrors.some((e) => e.code === 401), 15000, 'a 401 from the TURN server on the page', 250);
  let snap: TurnSnapshot | null = null;
  await waitFor(async () => { snap = await turnSnapshot(svc, opsToken); return (snap.authFailures.byUser[turnUser] ?? 0) > 0; }, 15000, `auth failures for ${turnUser}`, 250);
  const failures = snap!.authFailures.recent.filter((f) => f.user === turnUser);
  expect(failures.length).toBeGreaterThan(0);
  // Not expired, yet refused: the monitor calls it a wrong secret and says so in plain words.
  expect(failures[0]).toMatchObject({ realm: REALM, code: 401, problem: 'wrong-secret' });
  const diagnosis = snap!.diagnoses.find((d) => d.id === 'wrong-secret');
  expect(diagnosis?.message).toContain('TURN_SECRET');
  expect(diagnosis?.details.users).toContain(turnUser);
  expect(snap!.activeSessions.find((a) => a.user === turnUser && a.relayedBytes > 0)).toBeUndefined();

  // Bounded: for 10 more seconds nothing connects and no frame is decoded.
  const deadline = Date.now() + 10000;
  let r = await stats(page);
  while (Date.now() < deadline) {
    expect(r.framesDecoded).toBe(0);
    expect(['connected', 'completed']).not.toContain(r.ice);
    await new Promise((res) => setTimeout(res, 500));
    r = await stats(page);
  }
  expect(r.framesDecoded).toBe(0);
  expect(r.state.gathered).toEqual([]); // no relay candidate was ever allocated
  expect(r.local).toBeNull();
  console.log(`[relay-e2e] ${since()}: wrong secret: ice ${r.ice}, ${failures.length} auth failures (${failures[0].problem})`);
});

/**
 * Child process of bench/join.ts: N receive-only werift viewers (audio+video recvonly, like the web
 * app's viewer) that do not decode. Per viewer it records, on this process's clock:
 *   t0        just before the offer leaves (STOMP SEND, or IPC to the direct kurento-client driver)
 *   answer    the SDP answer arrived
 *   ice       ICE connected;  dtls: peer connection 'connected' (DTLS done, SRTP keys in place)
 *   rtp       first video RTP packet;  frame: first complete video frame (RTP marker bit)
 *   key       first complete VP8 keyframe (keyframe start .. marker, same RTP timestamp): the first
 *             frame a decoder could show.
 * Mode A talks the busking protocol over STOMP (one WebSocket per viewer, anonymous); mode B sends
 * the same offers over IPC to the parent, which calls kurento-client directly.
 */
import { RTCPeerConnection } from 'werift';
import { installNativeEcdh } from '../../kurento/src';
import { JoinStomp, now } from './join-stomp';

// The viewers' DTLS key exchange in OpenSSL, as the engine's: Chromium viewers do theirs natively,
// and 200 werift viewers doing X25519 in JavaScript would measure this process, not the engine.
installNativeEcdh();

const BIND = '127.0.0.1';

interface Cand { candidate: string; sdpMid: string; sdpMLineIndex: number }

interface V {
  i: number;
  pc: RTCPeerConnection;
  offer: string;
  local: Cand[];
  offered: boolean;
  remoteSet: boolean;
  remote: Cand[];
  stomp: JoinStomp | null;
  t: { t0: number; answer?: number; ice?: number; dtls?: number; rtp?: number; frame?: number; key?: number };
  keyTs: number | null;
  error?: string;
  done?: () => void;
}

let viewers: V[] = [];
let mode: 'A' | 'B' = 'A';
let buskId = '';

function send(m: unknown) { if (process.connected) process.send!(m as any); }

/** VP8 payload descriptor (RFC 7741): does this packet start a keyframe? */
function vp8KeyStart(p: Buffer): boolean {
  if (p.length < 2) return false;
  const b0 = p[0];
  let o = 1;
  if (b0 & 0x80) {
    const b1 = p[1];
    o = 2;
    if (b1 & 0x80) o += p[o] & 0x80 ? 2 : 1; // PictureID
    if (b1 & 0x40) o++; // TL0PICIDX
    if (b1 & 0x30) o++; // TID/KEYIDX
  }
  if (!(b0 & 0x10) || (b0 & 0x07) !== 0) return false; // start of partition 0
  return (p[o] & 0x01) === 0; // P bit: 0 = keyframe
}

async function makeViewer(i: number): Promise<V> {
  const pc = new RTCPeerConnection({ iceUseIpv4: true, iceUseIpv6: false, iceAdditionalHostAddresses: [BIND], iceInterfaceAddresses: { udp4: BIND } } as any);
  const v: V = { i, pc, offer: '', local: [], offered: false, remoteSet: false, remote: [], stomp: null, t: { t0: 0 }, keyTs: null };
  pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.iceConnectionStateChange.subscribe((s) => { if ((s === 'connected' || s === 'completed') && !v.t.ice && v.t.answer) v.t.ice = now(); });
  pc.connectionStateChange.subscribe((s) => { if (s === 'connected' && !v.t.dtls && v.t.answer) v.t.dtls = now(); });
  pc.onTrack.subscribe((track) => {
    if (track.kind !== 'video') return;
    track.onReceiveRtp.subscribe((rtp) => {
      if (v.t.key) return;
      const t = now();
      v.t.rtp ??= t;
      if (rtp.header.marker) v.t.frame ??= t;
      if (vp8KeyStart(rtp.payload)) v.keyTs = rtp.header.timestamp;
      if (rtp.header.marker && v.keyTs !== null && rtp.header.timestamp === v.keyTs) { v.t.key = t; v.done?.(); }
    });
  });
  pc.onIceCandidate.subscribe((c) => {
    if (!c?.candidate) return;
    const cand = { candidate: c.candidate, sdpMid: c.sdpMid ?? '0', sdpMLineIndex: c.sdpMLineIndex ?? 0 };
    if (v.offered) sendCandidate(v, cand); else v.local.push(cand);
  });
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  v.offer = pc.localDescription?.sdp ?? offer.sdp;
  restAfterKeyframe(pc, v);
  return v;
}

/**
 * Once its first keyframe is in, a viewer stops decrypting and parsing what arrives (its ICE and DTLS
 * go on): what is measured ends there, and 200 werift receive pipelines would otherwise take the
 * machine's second core from the engine for the rest of the storm, where real viewers decrypt on
 * their own devices (issue 13: viewers light enough not to be the bottleneck).
 */
function restAfterKeyframe(pc: RTCPeerConnection, v: V): void {
  const dtls = pc.getTransceivers()[0]?.dtlsTransport as any;
  if (!dtls || typeof dtls.startSrtp !== 'function') return;
  const startSrtp = dtls.startSrtp;
  dtls.startSrtp = function (this: any) {
    const onData = this.iceTransport.connection.onData;
    const subscribe = onData.subscribe;
    onData.subscribe = (fn: (data: Buffer) => void) => subscribe.call(onData, (data: Buffer) => { if (!v.t.key) fn(data); });
    try { return startSrtp.call(this); } finally { onData.subscribe = subscribe; }
  };
}

function sendCandidate(v: V, c: Cand): void {
  if (mode === 'A') v.stomp!.send(`/app/busk.${buskId}.ice`, { candidate: c });
  else send({ ev: 'cand', peer: v.i, candidate: c });
}

async function onAnswer(v: V, sdp: string): Promise<void> {
  if (v.t.answer) return;
  v.t.answer = now();
  try {
    await v.pc.setRemoteDescription({ type: 'answer', sdp } as any);
    v.remoteSet = true;
    for (const c of v.remote.splice(0)) await v.pc.addIceCandidate(c as any).catch(() => undefined);
  } catch (e) { fail(v, `setRemoteDescription: ${String(e)}`); }
}

function onRemoteCandidate(v: V, c: Cand): void {
  if (!v.remoteSet) { v.remote.push(c); return; }
  v.pc.addIceCandidate(c as any).catch(() => undefined);
}

function fail(v: V, msg: string): void {
  v.error ??= msg;
  v.done?.();
}

async function pool<T>(items: T[], n: number, job: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) await job(items[next++]);
  }));
}

async function prepare(m: { n: number; mode: 'A' | 'B'; stompUrl: string; buskId: string }): Promise<{ ms: number }> {
  const t = Date.now();
  mode = m.mode;
  buskId = m.buskId;
  viewers = [];
  const idx = Array.from({ length: m.n }, (_, i) => i);
  await pool(idx, 16, async (i) => {
    const v = await makeViewer(i);
    viewers[i] = v;
    if (mode === 'A') {
      const s = new JoinStomp();
      v.stomp = s;
      await s.connect(m.stompUrl);
      await s.subscribe('/user/queue/errors', (b) => fail(v, `error ${b?.code}: ${b?.message}`));
      await s.subscribe(`/user/queue/busk.${buskId}`, (b) => {
        if (b?.type === 'answer') void onAnswer(v, b.sdpAnswer);
        else if (b?.type === 'ice') onRemoteCandidate(v, b.candidate);
      });
    }
  });
  return { ms: Date.now() - t };
}

function offerOne(v: V): void {
  v.t.t0 = now();
  if (mode === 'A') v.stomp!.send(`/app/busk.${buskId}.offer`, { sdpOffer: v.offer }, { 'x-peer': String(v.i) }); // lets the parent match its server-side split
  else send({ ev: 'offer', peer: v.i, sdp: v.offer });
  v.offered = true;
  for (const c of v.local.splice(0)) sendCandidate(v, c);
}

function waitDone(v: V, ms: number): Promise<void> {
  if (v.t.key || v.error) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const t = setTimeout(() => { fail(v, 'timeout waiting for the first keyframe'); }, ms);
    v.done = () => { clearTimeout(t); resolve(); };
  });
}

async function go(m: { sequential: boolean; timeoutMs: number }): Promise<unknown> {
  const started = now();
  if (m.sequential) {
    for (const v of viewers) { offerOne(v); await waitDone(v, m.timeoutMs); }
  } else {
    const waits = viewers.map((v) => { const w = waitDone(v, m.timeoutMs); return w; });
    for (const v of viewers) offerOne(v); // all offers leave in one synchronous loop: "at once"
    await Promise.all(waits);
  }
  const rel = (x?: number, base?: number) => (x && base ? +(x - base).toFixed(3) : null);
  return {
    wallMs: +(now() - started).toFixed(1),
    viewers: viewers.map((v) => ({
      answer: rel(v.t.answer, v.t.t0), ice: rel(v.t.ice, v.t.t0), dtls: rel(v.t.dtls, v.t.t0),
      rtp: rel(v.t.rtp, v.t.t0), frame: rel(v.t.frame, v.t.t0), key: rel(v.t.key, v.t.t0),
      t0: +(v.t.t0 - started).toFixed(3), error: v.error ?? null,
    })),
  };
}

async function teardown(): Promise<void> {
  for (const v of viewers) {
    v.stomp?.close();
    await v.pc.close().catch(() => undefined);
  }
  viewers = [];
}

const handlers: Record<string, (m: any) => unknown> = {
  prepare, go, teardown,
  answer: (m) => { const v = viewers[m.peer]; if (v) void onAnswer(v, m.sdp); },
  ice: (m) => { const v = viewers[m.peer]; if (v) onRemoteCandidate(v, m.candidate); },
  fail: (m) => { const v = viewers[m.peer]; if (v) fail(v, m.error); },
  cpu: () => process.cpuUsage(),
};

process.on('message', async (m: any) => {
  const h = handlers[m.cmd];
  if (m.id === undefined) { try { await h?.(m); } catch { /* event */ } return; }
  try { send({ id: m.id, ok: true, result: await h(m) }); } catch (e) { send({ id: m.id, ok: false, error: String((e as Error)?.stack ?? e) }); }
});
process.on('disconnect', () => process.exit(0));
send({ ev: 'ready' });

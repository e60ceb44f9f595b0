// Many viewers joining one source at once (the join benchmark's burst, scaled down): every sink that
// reaches ICE+DTLS connected must get RTP. Presenter: @roamhq/wrtc in a child process; viewers: werift
// receive-only peers in this process (they count RTP, they do not decode), negotiated in the order the
// object layer uses with kurento-client: connect(source → sink), processOffer, gatherCandidates, trickle.
// Regression (bench:join, burst rounds: viewers at ICE+DTLS connected that never got a packet): our side
// is the DTLS client; when werift's ClientHello retransmission (500 ms) fires before the remote's
// HelloVerifyRequest is read, the remote answers twice and werift 0.24 failed the sink's DTLS transport
// on the duplicate while the handshake completed on the wire (see src/media/dtls-retransmit.ts). The
// event-loop stalls below make that happen on an idle machine too (without the fix: 20+ of 40 fail).
/* eslint-disable @typescript-eslint/no-explicit-any */
import { RTCPeerConnection } from 'werift';
import { createMediaPeer, type WeriftMediaPeer } from '../src/media';
import { waitFor } from '../../test-support/ports';
import { PeerHost, presentInto, weriftViewer } from './media-support';

jest.setTimeout(120000);

const BIND = '127.0.0.1';
const N = Number(process.env.MEDIA_BURST_VIEWERS ?? 40);
const opts = { bindAddress: BIND };

let host: PeerHost;
let source: WeriftMediaPeer;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  host = new PeerHost();
  source = createMediaPeer(opts) as WeriftMediaPeer;
  cleanups.push(() => source.close());
  await presentInto(host, source);
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  host?.stop();
});

interface Viewer { pc: RTCPeerConnection; sink: WeriftMediaPeer; rtp: number; connected: boolean }

async function join(): Promise<Viewer> {
  const sink = createMediaPeer(opts) as WeriftMediaPeer;
  cleanups.push(() => sink.close());
  source.connect(sink, ['audio', 'video']);
  const v = { sink, rtp: 0, connected: false } as Viewer;
  v.pc = await weriftViewer(sink, ['audio', 'video'], {}, (pc) => {
    cleanups.push(() => pc.close());
    pc.onTrack.subscribe((t) => { if (t.kind === 'video') t.onReceiveRtp.subscribe(() => { v.rtp++; }); });
    pc.connectionStateChange.subscribe((s) => { if (s === 'connected') v.connected = true; });
  });
  return v;
}

function diagnose(v: Viewer): Record<string, unknown> {
  const spc = (v.sink as any).pc as RTCPeerConnection;
  const txs = spc.getTransceivers().map((t) => {
    const d: any = t.sender.dtlsTransport;
    const conn: any = d?.iceTransport?.connection;
    return {
      kind: t.kind, dir: t.direction, cur: t.currentDirection, codec: t.sender.codec?.name, sent: (t.sender as any).packetCount,
      dtls: d?.state, dtlsId: d?.id, srtp: d?.srtpStarted, dtlsSent: d?.packetsSent, ice: conn?.state,
      nominated: !!conn?.nominated, consent: conn?.consentFresh,
    };
  });
  return {
    sinkConn: spc.connectionState, sinkIce: spc.iceConnectionState, transports: spc.dtlsTransports.length,
    out: v.sink.stats().packetsOut, txs, viewerConn: v.pc.connectionState, viewerIce: v.pc.iceConnectionState,
  };
}

/**
 * Blocks the event loop for `ms` every `every` ms, `times` times: what a loaded 2-core machine does to
 * the engine during a join storm. After such a stall Node runs expired timers before reading sockets,
 * so a handshake retransmission timer (werift's DTLS flights: 500 ms) fires before the answer that
 * already arrived is read.
 */
function stallLoop(ms: number, every: number, times: number): Promise<void> {
  return new Promise((resolve) => {
    let n = 0;
    const t = setInterval(() => {
      const end = Date.now() + ms;
      while (Date.now() < end) { /* busy */ }
      if (++n >= times) { clearInterval(t); resolve(); }
    }, every);
  });
}

test(`${N} viewers joining at once all receive RTP`, async () => {
  const stalls = stallLoop(600, 650, 12);
  const viewers = await Promise.all(Array.from({ length: N }, () => join()));
  await stalls;
  const ok = await waitFor(() => viewers.every((v) => v.rtp > 0), 30000, 'all viewers receiving').then(() => true, () => false);
  const failed = viewers.filter((v) => v.rtp === 0);
  if (!ok) {
    // eslint-disable-next-line no-console
    console.log(`${failed.length}/${N} without RTP; connected: ${failed.filter((v) => v.connected).length}\n` +
      failed.slice(0, 5).map((v) => JSON.stringify(diagnose(v))).join('\n'));
  }
  expect(failed.length).toBe(0);
  // and no sink's transport failed underneath (the symptom of the duplicate HelloVerifyRequest)
  expect(viewers.filter((v) => ((v.sink as any).pc as RTCPeerConnection).connectionState === 'failed')).toHaveLength(0);
});

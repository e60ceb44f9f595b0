// Child process that owns @roamhq/wrtc peers for tests and the benchmark. Why a child: wrtc 0.10
// segfaults in its native teardown when a process that used it exits, which would turn a green
// jest run red; the parent SIGKILLs this process instead, and libwebrtc's threads stop eating the
// test process's CPU. Protocol (IPC): {id, op, ...args} → {id, result} | {id, error};
// events: {event: 'candidate', peer, candidate} · {event: 'frames', peer, count, firstAt}.
'use strict';
const wrtc = require('@roamhq/wrtc');

const W = 160;
const H = 120;
const peers = new Map();
let seq = 0;

function send(m) { if (process.connected) process.send(m); }

function makePeer(kind, fps) {
  const id = `p${++seq}`;
  const pc = new wrtc.RTCPeerConnection({ iceServers: [] });
  const peer = { id, kind, pc, frames: 0, firstAt: null, sinks: [], timer: null, track: null };
  pc.onicecandidate = (ev) => {
    if (ev.candidate && ev.candidate.candidate) send({ event: 'candidate', peer: id, candidate: { candidate: ev.candidate.candidate, sdpMid: ev.candidate.sdpMid ?? '0', sdpMLineIndex: ev.candidate.sdpMLineIndex ?? 0 } });
  };
  if (kind === 'presenter') {
    const source = new wrtc.nonstandard.RTCVideoSource();
    peer.track = source.createTrack();
    pc.addTransceiver(peer.track, { direction: 'sendonly' });
    const data = new Uint8Array(W * H * 1.5);
    let t = 0;
    peer.timer = setInterval(() => {
      t++;
      for (let i = 0; i < W * H; i++) data[i] = (i + t * 4) & 0xff; // a moving gradient: real encoded frames
      data.fill(128, W * H);
      source.onFrame({ width: W, height: H, data });
    }, Math.round(1000 / (fps || 15)));
  } else {
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.ontrack = (ev) => {
      const sink = new wrtc.nonstandard.RTCVideoSink(ev.track);
      peer.sinks.push(sink);
      sink.onframe = () => {
        peer.frames++;
        if (peer.firstAt === null) {
          peer.firstAt = Date.now();
          send({ event: 'frames', peer: id, count: peer.frames, firstAt: peer.firstAt });
        } else if (peer.frames % 10 === 0) send({ event: 'frames', peer: id, count: peer.frames, firstAt: peer.firstAt });
      };
    };
  }
  peers.set(id, peer);
  return id;
}

function closePeer(p) {
  if (p.timer) clearInterval(p.timer);
  for (const s of p.sinks) s.stop();
  if (p.track) p.track.stop();
  p.pc.close();
  peers.delete(p.id);
}

const ops = {
  create: ({ kind, fps }) => makePeer(kind, fps),
  async offer({ peer }) {
    const p = peers.get(peer);
    const o = await p.pc.createOffer(p.pc.remoteDescription ? { iceRestart: true } : {});
    await p.pc.setLocalDescription(o);
    return o.sdp;
  },
  async answer({ peer, sdp }) { await peers.get(peer).pc.setRemoteDescription({ type: 'answer', sdp }); },
  async candidate({ peer, candidate }) {
    const p = peers.get(peer);
    if (!p) return;
    try { await p.pc.addIceCandidate(candidate); } catch { /* late candidate of a replaced negotiation */ }
  },
  stats({ peer }) { const p = peers.get(peer); return p ? { frames: p.frames, firstAt: p.firstAt, ice: p.pc.iceConnectionState } : null; },
  close({ peer }) { const p = peers.get(peer); if (p) closePeer(p); },
  ping() { return 'pong'; },
};

process.on('message', async (m) => {
  try {
    const result = await ops[m.op](m);
    send({ id: m.id, result });
  } catch (e) {
    send({ id: m.id, error: String(e && e.stack || e) });
  }
});
process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
send({ event: 'ready' });

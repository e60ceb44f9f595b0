#!/usr/bin/env node
// Child process hosting @roamhq/wrtc peers (libwebrtc) for the tests and the benchmarks; the parent
// side is test-support/wrtc-peers.ts (PeerHost, ClientPeer).
// Why a child: wrtc's native threads keep Node alive after media flowed, and its native teardown
// segfaults when a process that used it exits (also when tracks are stopped around close), which would
// turn a green jest run red; so the parent SIGKILLs this process instead and never runs that teardown.
// It also keeps libwebrtc's CPU out of the test / server process (the benchmarks measure both apart).
// Plain JavaScript, not compiled: resolved from the source tree also when the caller runs from dist/.
//
// Protocol (IPC): the parent sends {id, cmd, ...args}; we reply {id, ok: true, result} | {id, ok: false, error}.
// Events: {ev: 'ready'} · {ev: 'candidate', peer, candidate: {candidate, sdpMid, sdpMLineIndex}}
//         · {ev: 'frames', peer, count, firstAt} (a viewer's first decoded frame, then every 10th).
'use strict';
const wrtc = require('@roamhq/wrtc');

const peers = new Map();
let nextId = 1;

function send(msg) { if (process.connected) process.send(msg); }

/** Synthetic camera (a moving gradient, optionally a noisy band) and a 440 Hz tone. */
function makePresenter({ fps = 15, width = 640, height = 480, audio = true, video = true, noise = false }) {
  const pc = new wrtc.RTCPeerConnection({ iceServers: [] });
  const p = { kind: 'presenter', pc, timers: [], frames: 0, firstFrameAt: null, sinks: [] };
  if (video) {
    const source = new wrtc.nonstandard.RTCVideoSource();
    pc.addTransceiver(source.createTrack(), { direction: 'sendonly' });
    const data = new Uint8Array(width * height * 1.5);
    // Optional noise (benchmark): makes the encoder spend its whole bitrate budget, like a camera.
    const noiseBuf = noise ? Uint8Array.from({ length: width * height * 2 }, () => Math.floor(Math.random() * 256)) : null;
    p.timers.push(setInterval(() => {
      // A moving gradient: frames differ, so the encoder sends real delta frames.
      const shift = p.frames * 4;
      for (let y = 0; y < height; y++) data.fill((y + shift) & 0xff, y * width, y * width + width);
      data.fill(128, width * height);
      if (noiseBuf) {
        // A 1/40-frame noisy band that moves: enough detail to use ~500 kbps at 15 fps.
        const len = Math.floor((width * height) / 40);
        const off = (p.frames * 7919) % (width * height);
        data.set(noiseBuf.subarray(off, off + len), (p.frames * width * 8) % (width * height - len));
      }
      source.onFrame({ width, height, data });
      p.frames++;
    }, Math.round(1000 / (fps || 15))));
  }
  if (audio) {
    const source = new wrtc.nonstandard.RTCAudioSource();
    pc.addTransceiver(source.createTrack(), { direction: 'sendonly' });
    const samples = new Int16Array(480);
    let t = 0;
    p.timers.push(setInterval(() => {
      for (let i = 0; i < samples.length; i++) samples[i] = Math.round(3000 * Math.sin((2 * Math.PI * 440 * t++) / 48000));
      source.onData({ samples, sampleRate: 48000, bitsPerSample: 16, channelCount: 1, numberOfFrames: 480 });
    }, 10));
  }
  return p;
}

/** Receive-only; decoded video frames are counted with RTCVideoSink. */
function makeViewer({ audio = true, video = true }, id) {
  const pc = new wrtc.RTCPeerConnection({ iceServers: [] });
  if (audio) pc.addTransceiver('audio', { direction: 'recvonly' });
  if (video) pc.addTransceiver('video', { direction: 'recvonly' });
  const p = { kind: 'viewer', pc, timers: [], frames: 0, firstFrameAt: null, sinks: [] };
  pc.ontrack = (e) => {
    if (e.track.kind !== 'video') return;
    const sink = new wrtc.nonstandard.RTCVideoSink(e.track);
    sink.onframe = () => {
      p.frames++;
      if (p.firstFrameAt === null) p.firstFrameAt = Date.now();
      if (p.frames === 1 || p.frames % 10 === 0) send({ ev: 'frames', peer: id, count: p.frames, firstAt: p.firstFrameAt });
    };
    p.sinks.push(sink);
  };
  return p;
}

function register(make, m) {
  const id = nextId++;
  const p = make(m, id);
  peers.set(id, p);
  p.pc.onicecandidate = (e) => {
    if (e.candidate && e.candidate.candidate) {
      send({ ev: 'candidate', peer: id, candidate: { candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid ?? '0', sdpMLineIndex: e.candidate.sdpMLineIndex ?? 0 } });
    }
  };
  return id;
}

async function stats(p) {
  const out = { frames: p.frames, firstFrameAt: p.firstFrameAt, ice: p.pc.iceConnectionState, connection: p.pc.connectionState, video: null, audio: null };
  const report = await p.pc.getStats();
  report.forEach((s) => {
    if (s.type === 'inbound-rtp' || s.type === 'outbound-rtp') {
      const kind = s.kind || s.mediaType;
      out[kind] = { type: s.type, packetsReceived: s.packetsReceived, packetsLost: s.packetsLost, packetsSent: s.packetsSent,
        bytesReceived: s.bytesReceived, bytesSent: s.bytesSent, framesDecoded: s.framesDecoded, framesEncoded: s.framesEncoded, keyFramesDecoded: s.keyFramesDecoded, nackCount: s.nackCount, pliCount: s.pliCount };
    }
  });
  return out;
}

const handlers = {
  presenter: (m) => register(makePresenter, m),
  viewer: (m) => register(makeViewer, m),
  /** iceRestart: true, or 'auto' = only when renegotiating (a remote description is already set). */
  async createOffer(m) {
    const pc = get(m.peer).pc;
    const restart = m.iceRestart === true || (m.iceRestart === 'auto' && !!pc.remoteDescription);
    const o = await pc.createOffer(restart ? { iceRestart: true } : {});
    if (m.setLocal) await pc.setLocalDescription(o);
    return o.sdp;
  },
  async createAnswer(m) { const pc = get(m.peer).pc; const a = await pc.createAnswer(); await pc.setLocalDescription(a); return a.sdp; },
  async setLocal(m) { await get(m.peer).pc.setLocalDescription({ type: m.type, sdp: m.sdp }); },
  async setRemote(m) { await get(m.peer).pc.setRemoteDescription({ type: m.type, sdp: m.sdp }); },
  async addCandidate(m) { await get(m.peer).pc.addIceCandidate(m.candidate); },
  stats: (m) => stats(get(m.peer)),
  /** The frame counters only (no getStats): cheap enough to poll. */
  frames(m) { const p = get(m.peer); return { frames: p.frames, firstFrameAt: p.firstFrameAt }; },
  close(m) {
    const p = peers.get(m.peer);
    if (!p) return;
    peers.delete(m.peer);
    for (const t of p.timers) clearInterval(t);
    for (const s of p.sinks) s.stop();
    p.pc.close(); // tracks are not stopped: see the top of this file
  },
  cpu: () => process.cpuUsage(),
  ping: () => 'pong',
};

function get(id) {
  const p = peers.get(id);
  if (!p) throw new Error(`no peer ${id}`);
  return p;
}

process.on('message', async (m) => {
  try {
    const h = handlers[m.cmd];
    if (!h) throw new Error(`unknown command ${m.cmd}`);
    const result = await h(m);
    send({ id: m.id, ok: true, result });
  } catch (e) {
    send({ id: m.id, ok: false, error: String((e && e.message) || e) });
  }
});
process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
send({ ev: 'ready' });

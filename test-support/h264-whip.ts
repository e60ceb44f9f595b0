// A WHIP publisher as OBS is one: an x264 encoder (ffmpeg's libx264, constrained baseline, a
// keyframe every second, no B-frames) and Opus, sent over a real WebRTC stack (werift), the offer
// POSTed with all its candidates. @roamhq/wrtc has no H.264 encoder, and the crowd tier needs H.264.
//
// The picture is made here, frame by frame: a moving bar (so every frame differs) and, in the top
// 20 rows, the frame's capture time (Date.now() mod 2^32) as 32 black/white blocks. readStamp()
// below reads it back from a decoded frame, which gives glass-to-glass latency on one clock.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { requireProgram } from './processes';

export const STAMP = { bits: 32, blockWidth: 10, rows: 20 } as const;

export interface H264PublisherOptions {
  width?: number;
  height?: number;
  fps?: number;
  /** Seconds between keyframes (OBS: "Keyframe Interval"). */
  keyframeSeconds?: number;
  /** Extra query for POST /whip (title, tags, lat, lng). */
  query?: Record<string, string>;
  /**
   * Fresh noise in the lower half of every frame, so the encoder spends its whole bitrate as it does
   * on a real street scene (the plain picture compresses to a third of it).
   */
  noise?: boolean;
}

/** Luma plane of one frame: the stamp on top, a bar moving across below it, noise under that if asked. */
function lumaFrame(w: number, h: number, n: number, stampMs: number, noise: boolean): Buffer {
  const y = Buffer.alloc(w * h, 110);
  if (noise) crypto.randomFillSync(y, (h >> 1) * w);
  const bar = (n * 4) % w;
  for (let row = STAMP.rows + 4; row < h; row++) y.fill(235, row * w + bar, row * w + Math.min(w, bar + 24));
  for (let bit = 0; bit < STAMP.bits; bit++) {
    const on = (stampMs >>> (STAMP.bits - 1 - bit)) & 1;
    for (let row = 0; row < STAMP.rows; row++) y.fill(on ? 235 : 16, row * w + bit * STAMP.blockWidth, row * w + (bit + 1) * STAMP.blockWidth);
  }
  return y;
}

/** Reads the capture time back from a decoded frame's luma (one value per pixel, row-major). */
export function readStamp(luma: (x: number, y: number) => number): number {
  let v = 0;
  for (let bit = 0; bit < STAMP.bits; bit++) v = (v << 1 | (luma(bit * STAMP.blockWidth + STAMP.blockWidth / 2, STAMP.rows / 2) > 128 ? 1 : 0)) >>> 0;
  return v;
}

/** Milliseconds from a stamp to now (both mod 2^32). */
export function sinceStamp(stamp: number, now = Date.now()): number {
  return ((now % 2 ** 32) - stamp + 2 ** 32) % 2 ** 32;
}

async function udpIn(onPacket: (b: Buffer) => void): Promise<dgram.Socket> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (m) => {
    const pt = m.length >= 2 ? m[1]! & 0x7f : 0;
    if (m.length >= 12 && !(pt >= 72 && pt <= 76)) onPacket(m); // RTCP from ffmpeg is not ours to send
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return sock;
}

export class H264Publisher {
  private constructor(
    readonly location: string,
    readonly etag: string,
    readonly answer: string,
    private readonly pc: RTCPeerConnection,
    private readonly procs: ChildProcess[],
    private readonly socks: dgram.Socket[],
    private readonly timer: NodeJS.Timeout,
  ) {}

  /** POSTs to `${baseUrl}/whip` with `token`; resolves once the 201 came and the answer is applied. */
  static async publish(baseUrl: string, token: string, o: H264PublisherOptions = {}): Promise<H264Publisher> {
    const ffmpeg = requireProgram('ffmpeg', 'ffmpeg');
    const w = o.width ?? 320, h = o.height ?? 240, fps = o.fps ?? 25, gop = Math.round(fps * (o.keyframeSeconds ?? 1));
    const video = new MediaStreamTrack({ kind: 'video' });
    const audio = new MediaStreamTrack({ kind: 'audio' });
    const pc = new RTCPeerConnection({
      // One bundled transport on IPv4, as the engine's own peers: with werift's defaults (IPv6 too,
      // no bundle) close() left two UDP sockets open, and they kept the test process alive.
      bundlePolicy: 'max-bundle', iceUseIpv6: false,
      codecs: {
        video: [new RTCRtpCodecParameters({
          mimeType: 'video/H264', clockRate: 90000, payloadType: 102,
          parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
          rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }],
        })],
        audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111 })],
      },
    });
    pc.addTransceiver(video, { direction: 'sendonly' });
    pc.addTransceiver(audio, { direction: 'sendonly' });
    await pc.setLocalDescription(await pc.createOffer());
    // WHIP answers once: the offer carries every candidate (werift gathers host candidates at once).
    await new Promise<void>((resolve) => {
      if (pc.iceGatheringState === 'complete') return resolve();
      pc.iceGatheringStateChange.subscribe((s) => { if (s === 'complete') resolve(); });
    });
    const query = new URLSearchParams(o.query ?? {}).toString();
    const res = await fetch(`${baseUrl}/whip${query ? `?${query}` : ''}`, {
      method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` }, body: pc.localDescription!.sdp,
    });
    const body = await res.text();
    if (res.status !== 201) { await pc.close(); throw new Error(`WHIP POST: ${res.status} ${body}`); }
    await pc.setRemoteDescription({ type: 'answer', sdp: body });

    const vsock = await udpIn((b) => video.writeRtp(b));
    const asock = await udpIn((b) => audio.writeRtp(b));
    const venc = spawn(ffmpeg, [
      '-hide_banner', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${w}x${h}`, '-r', String(fps), '-i', '-',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-b:v', '600k',
      '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0', '-bf', '0',
      '-f', 'rtp', '-payload_type', '102', `rtp://127.0.0.1:${vsock.address().port}?pkt_size=1200`,
    ], { stdio: ['pipe', 'ignore', 'inherit'] });
    const aenc = spawn(ffmpeg, [
      '-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-c:a', 'libopus', '-b:a', '64k', '-ac', '2', '-f', 'rtp', '-payload_type', '111', `rtp://127.0.0.1:${asock.address().port}`,
    ], { stdio: ['ignore', 'ignore', 'inherit'] });
    venc.stdin!.on('error', () => undefined); // ffmpeg gone at close
    const chroma = Buffer.alloc((w / 2) * (h / 2) * 2, 128);
    let n = 0;
    const timer = setInterval(() => {
      if (!venc.stdin!.writable) return;
      venc.stdin!.write(lumaFrame(w, h, n++, Date.now() % 2 ** 32, !!o.noise));
      venc.stdin!.write(chroma);
    }, 1000 / fps);
    return new H264Publisher(new URL(res.headers.get('location')!, baseUrl).toString(), res.headers.get('etag') ?? '', body, pc, [venc, aenc], [vsock, asock], timer);
  }

  /** DELETE on the WHIP session (the busk ends). */
  async delete(): Promise<number> {
    return (await fetch(this.location, { method: 'DELETE' })).status;
  }

  get connectionState(): string { return this.pc.connectionState; }

  /** Stops the encoders and the peer (without DELETE: as if OBS vanished). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const p of this.procs) { p.stdin?.end(); p.kill('SIGKILL'); }
    for (const s of this.socks) s.close();
    await this.pc.close().catch(() => undefined);
  }
}

// The record module on its own (kurento/src/media/record), fed by real RTP: ffmpeg encodes a test
// picture with libx264 and a tone with libopus and sends them as RTP to this process, which
// depacketizes (FU-A, STAP-A / single NAL, Opus) and writes a fragmented MP4 that ffprobe checks.
import { execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Depacketizer, MediaWriter, type EncodedFrame } from '../src/media/record';

jest.setTimeout(60000);

/** Listens on a free UDP port; parses each datagram's RTP header. */
async function rtpReceiver(onPacket: (p: { payload: Buffer; marker: boolean; timestamp: number; sequenceNumber: number; payloadType: number }) => void): Promise<{ port: number; close(): void }> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (m) => {
    if (m.length < 12 || (m[1]! & 0x7f) >= 72 && (m[1]! & 0x7f) <= 76) return; // RTCP
    const cc = m[0]! & 0x0f;
    let off = 12 + cc * 4;
    if (m[0]! & 0x10) off += 4 + m.readUInt16BE(off + 2) * 4;
    let end = m.length;
    if (m[0]! & 0x20) end -= m[m.length - 1]!;
    onPacket({ payload: m.subarray(off, end), marker: !!(m[1]! & 0x80), payloadType: m[1]! & 0x7f, timestamp: m.readUInt32BE(4), sequenceNumber: m.readUInt16BE(2) });
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { port: sock.address().port, close: () => sock.close() };
}

test('H.264 + Opus RTP from ffmpeg → fragmented MP4 that ffprobe reads with the right codecs, size and duration', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'record-'));
  const file = path.join(dir, 'out.mp4');
  const writer = new MediaWriter({ path: file, container: 'mp4', video: 'h264', audio: 'opus' });
  const video = new Depacketizer('h264', 0);
  const audio = new Depacketizer('opus', 0);
  const frames: EncodedFrame[] = [];
  const take = (f: EncodedFrame | null) => { if (f) { frames.push(f); writer.write(f); } };
  const v = await rtpReceiver((p) => take(video.push(p)));
  const a = await rtpReceiver((p) => take(audio.push(p)));
  try {
    // 3 s, a keyframe every second, slices small enough to need FU-A at 1200 bytes per packet.
    const ff = spawn('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-re',
      '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=30:duration=3',
      '-f', 'lavfi', '-i', 'sine=frequency=440:duration=3',
      '-map', '0:v', '-c:v', 'libx264', '-profile:v', 'baseline', '-g', '30', '-pix_fmt', 'yuv420p', '-payload_type', '102',
      '-f', 'rtp', `rtp://127.0.0.1:${v.port}?pkt_size=1200`,
      '-map', '1:a', '-c:a', 'libopus', '-ar', '48000', '-payload_type', '111',
      '-f', 'rtp', `rtp://127.0.0.1:${a.port}`,
    ], { stdio: ['ignore', 'ignore', 'inherit'] });
    const code = await new Promise<number | null>((r) => ff.on('exit', r));
    expect(code).toBe(0);
  } finally {
    v.close();
    a.close();
  }
  await writer.close();
  expect(frames.filter((f) => f.kind === 'video' && f.keyframe).length).toBeGreaterThanOrEqual(3);
  const out = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_name,width,height', '-of', 'json', file], { encoding: 'utf8' }));
  const streams = out.streams.sort((x: { codec_name: string }, y: { codec_name: string }) => x.codec_name.localeCompare(y.codec_name));
  expect(streams).toEqual([expect.objectContaining({ codec_name: 'h264', width: 320, height: 240 }), expect.objectContaining({ codec_name: 'opus' })]);
  expect(Math.abs(Number(out.format.duration) - 3)).toBeLessThan(0.3);
  // Every frame decodes: ffmpeg reads the whole file without errors.
  execFileSync('ffmpeg', ['-v', 'error', '-xerror', '-i', file, '-f', 'null', '-']);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('a VP8 stream that waits for a keyframe', () => {
  // One-packet frames, 30 per second: VP8 payload descriptor with the S bit, then the frame tag
  // (bit 0 clear: a key frame) and the key frame's start code with a 320x240 size.
  const key = Uint8Array.of(0x10, 0x00, 0, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00);
  const delta = Uint8Array.of(0x10, 0x01, 0, 0);
  let seq = 0;
  const packet = (frame: number, payload: Uint8Array) => ({ payload, marker: true, timestamp: frame * 3000, sequenceNumber: seq++ & 0xffff });

  test('asks for a keyframe at the loss and again every second of stream until one comes, then stops asking', () => {
    let asks = 0;
    const d = new Depacketizer('vp8', 0, () => { asks++; });
    const out: EncodedFrame[] = [];
    const push = (frame: number, payload: Uint8Array) => { const f = d.push(packet(frame, payload)); if (f) out.push(f); };
    push(0, key);
    for (let i = 1; i < 10; i++) push(i, delta);
    expect(asks).toBe(0);
    seq += 3; // three packets lost
    // Ten seconds of delta frames: the request at the loss, then one per second of stream (not one per frame).
    for (let i = 10; i < 310; i++) push(i, delta);
    expect(asks).toBe(10);
    expect(out).toHaveLength(10); // nothing after the loss is usable without a keyframe
    push(310, key);
    for (let i = 311; i < 400; i++) push(i, delta);
    expect(asks).toBe(10);
    expect(out).toHaveLength(10 + 90);
    expect(out[10]!.keyframe).toBe(true);
  });

  test('a stream that starts without a keyframe asks for one', () => {
    let asks = 0;
    const d = new Depacketizer('vp8', 0, () => { asks++; });
    for (let i = 0; i < 61; i++) expect(d.push(packet(i, delta))).toBeNull();
    expect(asks).toBe(3); // at 0 s, 1 s and 2 s
  });
});

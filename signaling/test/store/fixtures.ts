// Test recordings made by ffmpeg itself, shaped like the recording leg's files: H.264 + Opus in a
// fragmented MP4 with a keyframe every 2 s (testsrc picture, a sine tone).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { requireProgram } from '../../../test-support/processes';

export const KEYFRAME_S = 2;

export function makeRecording(file: string, seconds = 30): string {
  const ffmpeg = requireProgram('ffmpeg', 'ffmpeg');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  execFileSync(ffmpeg, [
    '-nostdin', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc=size=320x240:rate=25:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', String(25 * KEYFRAME_S), '-keyint_min', String(25 * KEYFRAME_S), '-sc_threshold', '0',
    '-c:a', 'libopus', '-b:a', '64k',
    '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4', file,
  ]);
  return file;
}

/** Duration from the container header (ffprobe), as a phone's player reads it. */
export function probe(file: string): { durationS: number; fragmented: boolean; streams: string[] } {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_name', '-of', 'json', file], { encoding: 'utf8' });
  const j = JSON.parse(out) as { format: { duration: string }; streams: { codec_name: string }[] };
  const head = fs.readFileSync(file).subarray(0, 64 * 1024);
  return { durationS: Number(j.format.duration), fragmented: head.includes(Buffer.from('mvex')), streams: j.streams.map((s) => s.codec_name) };
}

/** The order of the top-level boxes of an MP4 (ftyp, moov, mdat, ...). */
export function topBoxes(file: string): string[] {
  const b = fs.readFileSync(file);
  const out: string[] = [];
  for (let i = 0; i + 8 <= b.length;) {
    let size = b.readUInt32BE(i);
    const type = b.toString('latin1', i + 4, i + 8);
    if (size === 1) size = Number(b.readBigUInt64BE(i + 8));
    out.push(type);
    if (size < 8) break;
    i += size;
  }
  return out;
}

// Cutting a short from a recording with Debian's ffmpeg, copying the streams (no re-encoding, so a
// 60 s cut from an hour-long file takes a fraction of a second). Why ffmpeg and not a JS muxer: it
// reads both the fragmented MP4 (H.264 + Opus) and the WebM (VP8 + Opus) recordings, seeks by the
// index instead of reading the file from the start, and `-movflags +faststart` writes a finished,
// non-fragmented MP4 with the moov box (duration included) before the media: a phone's player
// shows the right length at once and seeks from byte 0.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { AppError } from '../stomp/errors';

/** How far after startS the cut seeks (see cut()). */
const SEEK_SLACK_S = 0.05;

export interface ClipResult {
  /** The short's real duration: the cut starts at the keyframe at or before startS. */
  durationS: number;
}

export class Clipper {
  readonly ffprobe: string;

  constructor(readonly ffmpeg = 'ffmpeg') {
    // ffprobe comes with ffmpeg: next to it when a path was given, else from PATH.
    this.ffprobe = ffmpeg.includes('/') ? path.join(path.dirname(ffmpeg), 'ffprobe') : 'ffprobe';
  }

  /** Container duration in seconds (fragmented files included). */
  async duration(file: string): Promise<number> {
    const out = await run(this.ffprobe, ['-v', 'error', '-show_entries', 'format=duration', '-of', 'default=nw=1:nk=1', file]);
    let d = Number(out.trim());
    // A recording cut off by a crash has no duration in its header (WebM's is written at the end):
    // the end of its last complete packet is its duration.
    if (!Number.isFinite(d) || d <= 0) d = await this.lastPacketEnd(file);
    if (!Number.isFinite(d) || d <= 0) throw new AppError('unavailable', `cannot read the duration of ${path.basename(file)}`);
    return d;
  }

  private async lastPacketEnd(file: string): Promise<number> {
    const out = await run(this.ffprobe, ['-v', 'error', '-show_entries', 'packet=pts_time,duration_time', '-of', 'csv=p=0', file]).catch(() => '');
    let end = 0;
    for (const line of out.split('\n')) {
      const [pts, dur] = line.split(',').map(Number);
      if (Number.isFinite(pts)) end = Math.max(end, pts! + (Number.isFinite(dur) ? dur! : 0));
    }
    return end;
  }

  /**
   * `-ss` before `-i` seeks in the input to the keyframe at or before the seek point (stream copy
   * can only start on a keyframe) and copies from there to seek + `-t`, so the short ends at endS
   * and starts up to one keyframe interval early. The seek point is a little after startS: a
   * keyframe at exactly startS has a timestamp a few ms later in files with audio priming, and
   * would otherwise be missed for the one before it. The output is an MP4 (Opus in MP4 is standard).
   */
  async cut(input: string, startS: number, endS: number, output: string, container: 'mp4' | 'webm' = 'mp4'): Promise<ClipResult> {
    const seekS = Math.min(startS + SEEK_SLACK_S, endS - SEEK_SLACK_S);
    // VP8 has no MP4 mapping in ffmpeg: a VP8 recording (WebM) gives a WebM short, whose Duration is
    // in its header and whose Cues are moved to the front, so it too plays and seeks from byte 0.
    const finish = container === 'mp4' ? ['-movflags', '+faststart', '-f', 'mp4'] : ['-cues_to_front', '1', '-f', 'webm'];
    await run(this.ffmpeg, [
      '-nostdin', '-v', 'error', '-y', '-ss', seekS.toFixed(3), '-i', input, '-t', (endS - seekS).toFixed(3),
      '-map', '0:v:0?', '-map', '0:a:0?', '-c', 'copy', '-avoid_negative_ts', 'make_zero',
      ...finish, output,
    ]);
    return { durationS: await this.duration(output) };
  }

  /** The whole of a WebM file copied into one with a Duration and Cues up front (no re-encoding). */
  async sealWebm(input: string, output: string): Promise<void> {
    await run(this.ffmpeg, ['-nostdin', '-v', 'error', '-y', '-i', input, '-map', '0', '-c', 'copy', '-cues_to_front', '1', '-f', 'webm', output]);
  }

  /** One JPEG frame at `atS` into `input` (the short's first frame). */
  async poster(input: string, atS: number, output: string): Promise<void> {
    await run(this.ffmpeg, ['-nostdin', '-v', 'error', '-y', '-ss', atS.toFixed(3), '-i', input, '-frames:v', '1', '-q:v', '4', '-f', 'image2', output]);
  }
}

function run(bin: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    p.stderr.on('data', (b: Buffer) => { err = (err + b.toString()).slice(-2000); });
    p.on('error', (e: NodeJS.ErrnoException) => {
      reject(new AppError('unavailable', e.code === 'ENOENT' ? `${bin} is not installed (Debian package ffmpeg); shorts cannot be cut` : `${bin}: ${e.message}`));
    });
    p.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new AppError('unavailable', `${path.basename(bin)} failed (exit ${code}): ${err.trim().split('\n').pop() ?? ''}`));
    });
  });
}

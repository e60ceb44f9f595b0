// bench:record, phase "cut": a 60 s short from a 1-hour recording, through the service's own
// Shorts.create (checks, ffmpeg stream copy, poster, media store, row), as the studio's "Publish
// short" and "Clip the last 30 s" do. The hour is made by ffmpeg in the recording leg's shapes
// (fragmented MP4 with 1 s fragments for H.264, append-only WebM with clusters of unknown size and
// no Cues for VP8, and that WebM sealed with Cues as a finished recording is): one minute encoded,
// then the minute copied 60 times (no re-encoding), so making the hour takes seconds.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Service } from '../../signaling/src/service';
import type { Principal } from '../../signaling/src/stomp/types';

export interface CutCase { recording: string; kind: 'finished' | 'live' | 'live, no writer here'; at: string; runs: number; p50Ms: number; maxMs: number; shortS: number }

const KEYFRAME_S = 2;

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

function ffmpeg(args: string[]): void {
  execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** One minute of 640x480 30 fps at about 1 Mbps with a keyframe every 2 s, then the hour from it. */
function makeHour(dir: string, codec: 'h264' | 'vp8'): string {
  const minute = path.join(dir, `minute.${codec === 'h264' ? 'mp4' : 'webm'}`);
  const video = codec === 'h264'
    ? ['-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '1000k', '-maxrate', '1200k', '-bufsize', '1000k', '-pix_fmt', 'yuv420p']
    : ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '1000k'];
  ffmpeg([
    '-f', 'lavfi', '-i', 'testsrc2=size=640x480:rate=30:duration=60', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=60',
    ...video, '-g', String(30 * KEYFRAME_S), '-keyint_min', String(30 * KEYFRAME_S), '-c:a', 'libopus', '-b:a', '128k', minute,
  ]);
  const list = path.join(dir, `hour-${codec}.txt`);
  fs.writeFileSync(list, Array.from({ length: 60 }, () => `file '${minute}'`).join('\n') + '\n');
  const hour = path.join(dir, codec === 'h264' ? 'hour.mp4' : 'hour.webm');
  const shape = codec === 'h264'
    ? ['-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-frag_duration', '1000000', '-f', 'mp4']
    : ['-live', '1', '-f', 'webm'];
  ffmpeg(['-f', 'concat', '-safe', '0', '-i', list, '-c', 'copy', ...shape, hour]);
  fs.rmSync(minute);
  return hour;
}

export async function cutPhase(svc: Service, owner: Principal, log: (s: string) => void, runs = 5): Promise<{ cases: CutCase[]; files: Record<string, { mb: number; durationS: number }> }> {
  const dir = svc.store.recordingsDir;
  fs.mkdirSync(dir, { recursive: true });
  log('cut: making the 1-hour recordings (ffmpeg, stream copy of one encoded minute)');
  const mp4 = makeHour(dir, 'h264');
  const webm = makeHour(dir, 'vp8');
  const sealed = path.join(dir, 'hour.sealed.webm');
  await svc.afterShow.clipper.sealWebm(webm, sealed);
  const files: Record<string, { mb: number; durationS: number }> = {};
  for (const f of [mp4, webm, sealed]) files[path.basename(f)] = { mb: fs.statSync(f).size / 2 ** 20, durationS: await svc.afterShow.clipper.duration(f) };

  const cases: CutCase[] = [];
  const measure = async (recording: string, kind: CutCase['kind'], at: string, body: (recId: string) => Record<string, unknown>, recId: string) => {
    const times: number[] = [];
    let shortS = 0;
    for (let i = 0; i < runs; i++) {
      const t0 = process.hrtime.bigint();
      const s = await svc.afterShow.shorts.create(owner, { recordingId: recId, title: `${recording} ${at}`, hashtags: ['bench'], ...body(recId) });
      times.push(ms(t0));
      shortS = s.durationS;
      await svc.afterShow.shorts.delete(owner, s.id); // the next run cuts again; nothing piles up
    }
    const c = { recording, kind, at, runs, p50Ms: p50(times), maxMs: Math.max(...times), shortS };
    log(`cut: ${recording} ${kind} ${at}: p50 ${c.p50Ms.toFixed(0)} ms, max ${c.maxMs.toFixed(0)} ms, short ${shortS.toFixed(1)} s`);
    cases.push(c);
  };
  for (const [file, type] of [[mp4, 'video/mp4'], [sealed, 'video/webm']] as const) {
    const rec = await svc.afterShow.recordings.create({ buskId: 'bench', owner, file: path.basename(file), contentType: type });
    await svc.afterShow.recordings.finish(rec.id);
    for (const at of [0, 1800, 3540]) await measure(path.basename(file), 'finished', `${at / 60} min`, () => ({ startS: at, endS: at + 60 }), rec.id);
  }
  // A show still running: the row is 'recording' and "Clip the last 30 s" cuts the end of the file
  // (unsealed: no duration in its header). Its length comes from the recording's writer, as when
  // this process records it; without a writer here (a row another process left) from the file.
  for (const [file, type] of [[mp4, 'video/mp4'], [webm, 'video/webm']] as const) {
    const rec = await svc.afterShow.recordings.create({ buskId: 'bench-live', owner, file: path.basename(file), contentType: type });
    const stop = svc.afterShow.recordings.writtenBy(rec.id, () => files[path.basename(file)]!.durationS);
    await measure(path.basename(file), 'live', 'last 30 s', () => ({ lastS: 30 }), rec.id);
    stop();
    await measure(path.basename(file), 'live, no writer here', 'last 30 s', () => ({ lastS: 30 }), rec.id);
  }
  for (const f of [mp4, webm, sealed]) fs.rmSync(f, { force: true });
  return { cases, files };
}

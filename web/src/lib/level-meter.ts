// The input level of the busker's microphone, read from the captured track with WebAudio: a meter in
// dBFS (the loudest channel's peak) and a clipping warning. A clipped sample (|x| near full scale) is
// distortion every viewer hears and no later stage can remove, so the warning stays up for a while
// after the last one, long enough to be read while playing.
export interface LevelReport { peakDb: number; channels: number; clipping: boolean }

const CLIP = 0.99;
const HOLD_MS = 2000;
const FLOOR_DB = -60;
const EVERY_MS = 100;

export class LevelMeter {
  private ctx: AudioContext | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private lastClip = -Infinity;

  constructor(private readonly onLevel: (r: LevelReport) => void) {}

  /** Meters the stream's audio track (a new track replaces the old one). */
  attach(stream: MediaStream): void {
    this.stop();
    const track = stream.getAudioTracks()[0];
    if (!track) return;
    const ctx = new AudioContext();
    this.ctx = ctx;
    const source = ctx.createMediaStreamSource(new MediaStream([track]));
    const channels = Math.max(1, Math.min(2, source.channelCount, track.getSettings().channelCount ?? 2));
    const splitter = ctx.createChannelSplitter(channels);
    source.connect(splitter);
    const analysers = Array.from({ length: channels }, (_, i) => {
      const a = ctx.createAnalyser();
      a.fftSize = 2048;
      splitter.connect(a, i);
      return a;
    });
    const buf = new Float32Array(2048);
    // A page's AudioContext may start suspended until a gesture; going live is one, so resume then.
    void ctx.resume().catch(() => undefined);
    this.timer = setInterval(() => {
      let peak = 0;
      for (const a of analysers) {
        a.getFloatTimeDomainData(buf);
        for (const x of buf) peak = Math.max(peak, Math.abs(x));
      }
      const now = performance.now();
      if (peak >= CLIP) this.lastClip = now;
      const peakDb = peak > 0 ? Math.max(FLOOR_DB, 20 * Math.log10(peak)) : FLOOR_DB;
      this.onLevel({ peakDb, channels, clipping: now - this.lastClip < HOLD_MS });
    }, EVERY_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    void this.ctx?.close().catch(() => undefined);
    this.ctx = null;
  }
}

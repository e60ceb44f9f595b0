// Is media actually moving? The service reports its own view (`media` on /topic/busk.{id}); this
// watches the browser's side from getStats: decoded video frames for a viewer, bytes sent for the
// presenter. A counter that stops growing for a few seconds is a stall.
export type Flow = 'waiting' | 'flowing' | 'stalled';

export interface FlowSample {
  flow: Flow;
  counter: number;
  /** Bytes sent per second over the last interval, as bits (direction 'out' only): the live uplink. */
  bitsPerSecond?: number;
  /** The short side of the video being sent, in pixels (direction 'out' only). */
  sentLines?: number;
}

const STALL_AFTER_MS = 3000;
const NEVER_STARTED_MS = 8000;
/** Below this many decoded frames per second video is frozen, not moving. */
const MIN_FPS = 3;

export class FlowWatch {
  private last = -1;
  private lastChange = Date.now();
  private lastPoll = Date.now();
  private flow: Flow = 'waiting';
  private timer: ReturnType<typeof setInterval>;

  constructor(
    /** Where frames are counted: a peer connection's getStats, or a video element played by MSE or natively (the HLS tier). */
    private readonly source: () => RTCPeerConnection | HTMLVideoElement | null,
    private readonly direction: 'in' | 'out',
    private readonly onSample: (s: FlowSample) => void,
    intervalMs = 1000,
  ) {
    this.timer = setInterval(() => void this.poll(), intervalMs);
  }

  stop(): void { clearInterval(this.timer); }

  /** How long the counter has not moved (since the last reset when it never did). */
  msSinceProgress(): number { return Date.now() - this.lastChange; }

  /** A new peer connection starts from zero: wait for it rather than calling it stalled. */
  reset(): void { this.last = -1; this.lastChange = Date.now(); this.lastPoll = Date.now(); this.flow = 'waiting'; }

  private async poll(): Promise<void> {
    const src = this.source();
    if (!src) return;
    let counter = 0;
    let sentLines: number | undefined;
    let report: RTCStatsReport | null = null;
    if (src instanceof HTMLVideoElement) counter = src.getVideoPlaybackQuality().totalVideoFrames;
    else report = await src.getStats().catch(() => null);
    report?.forEach((s: Record<string, unknown>) => {
      if (this.direction === 'in' && s.type === 'inbound-rtp' && s.kind === 'video') counter += Number(s.framesDecoded ?? 0);
      if (this.direction === 'out' && s.type === 'outbound-rtp') {
        counter += Number(s.bytesSent ?? 0);
        if (s.kind === 'video' && s.frameWidth && s.frameHeight) sentLines = Math.min(Number(s.frameWidth), Number(s.frameHeight));
      }
    });
    const now = Date.now();
    // For video in, a trickle is not flowing: a leg that only decodes the odd keyframe (its delta
    // frames undecodable) shows a frozen picture, and must count as stalled so it gets repaired.
    const elapsed = Math.max(1, now - this.lastPoll);
    const progressed = this.direction === 'in' ? ((counter - this.last) * 1000) / elapsed >= MIN_FPS : counter > this.last;
    this.lastPoll = now;
    if (progressed && this.last >= 0) { this.flow = 'flowing'; this.lastChange = now; }
    else if (this.flow !== 'waiting' && now - this.lastChange > STALL_AFTER_MS) this.flow = 'stalled';
    // A connection that never started moving is stalled too, after a longer wait for ICE and DTLS.
    else if (this.flow === 'waiting' && now - this.lastChange > NEVER_STARTED_MS) this.flow = 'stalled';
    const bitsPerSecond = this.direction === 'out' && this.last >= 0 ? Math.max(0, ((counter - this.last) * 8000) / elapsed) : undefined;
    this.last = counter;
    this.onSample({ flow: this.flow, counter, bitsPerSecond, sentLines });
  }
}

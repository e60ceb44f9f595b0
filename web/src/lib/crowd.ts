// The crowd tier on the watch page: the busk's HLS playlist (PROTOCOL.md, "Crowd tier") played by
// hls.js over Media Source Extensions, or by the browser itself where there is no MSE (iPhone Safari
// before ManagedMediaSource). hls.js is loaded only when a viewer actually moves to this tier: the
// WebRTC viewers, the many, never download it.
//
// The playlist URL carries `?v=<this page>` so the service counts each HLS viewer once, even when
// many sit behind one address; segment URLs are relative, so they stay the same for everyone and a
// CDN caches one copy.

export interface CrowdPlayerEvents {
  /** The playlist ended (ENDLIST played out) or is gone: the show is over. */
  ended: () => void;
  /** Something this tier cannot recover from by itself. */
  error: (message: string) => void;
}

/** hls.js's live settings: its own defaults, except where a street show differs from a VOD-first player. */
const HLS_CONFIG = {
  // The playlist says how far behind live to sit (EXT-X-SERVER-CONTROL:HOLD-BACK); hls.js reads it.
  // Low-latency mode is what lets hls.js steer back to it: without it maxLiveSyncPlaybackRate is never
  // applied, and a viewer who stalled once stays that far behind for the rest of the show (bench:crowd
  // saw 6.2 s instead of 3.4). Our playlists carry no parts, so nothing else of LL-HLS comes into play.
  lowLatencyMode: true,
  // Catch up gently (at most 10 % faster, pitch kept) after a stall instead of jumping, so the music
  // does not skip.
  maxLiveSyncPlaybackRate: 1.1,
  // A busker's phone uplink hiccups: keep retrying the playlist rather than giving up.
  manifestLoadPolicy: { default: { maxTimeToFirstByteMs: 10_000, maxLoadTimeMs: 20_000, timeoutRetry: { maxNumRetry: 6, retryDelayMs: 500, maxRetryDelayMs: 4000 }, errorRetry: { maxNumRetry: 6, retryDelayMs: 1000, maxRetryDelayMs: 8000 } } },
  backBufferLength: 10,
};

/** A stable-for-this-page random key, so reloads of the playlist count as one viewer. */
function viewerKey(): string {
  const a = new Uint8Array(9);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class CrowdPlayer {
  private destroy: (() => void) | null = null;
  private closed = false;

  constructor(private readonly video: HTMLVideoElement, private readonly playlist: string, private readonly on: CrowdPlayerEvents) {}

  /** Whether this browser can play the tier at all. */
  static supported(video: HTMLVideoElement): boolean {
    return typeof MediaSource !== 'undefined' || 'ManagedMediaSource' in window || video.canPlayType('application/vnd.apple.mpegurl') !== '';
  }

  /** Attaches the playlist to the video; the caller plays it. */
  async start(): Promise<void> {
    const url = `${this.playlist}${this.playlist.includes('?') ? '&' : '?'}v=${viewerKey()}`;
    const { default: Hls } = await import('hls.js/light');
    if (this.closed) return;
    const onEnded = () => { if (!this.closed) this.on.ended(); };
    this.video.addEventListener('ended', onEnded);
    if (Hls.isSupported()) {
      const hls = new Hls(HLS_CONFIG);
      hls.on(Hls.Events.ERROR, (_e, data) => {
        if (!data.fatal || this.closed) return;
        // A playlist that is gone (404) after the show: the end, not a failure.
        if (data.response?.code === 404) { this.on.ended(); return; }
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR) { hls.recoverMediaError(); return; }
        this.on.error(`HLS: ${data.details}`);
      });
      hls.loadSource(url);
      hls.attachMedia(this.video);
      this.destroy = () => { this.video.removeEventListener('ended', onEnded); hls.destroy(); };
    } else {
      this.video.src = url; // Safari without MSE plays HLS itself
      this.destroy = () => { this.video.removeEventListener('ended', onEnded); this.video.removeAttribute('src'); this.video.load(); };
    }
  }

  close(): void {
    this.closed = true;
    this.destroy?.();
    this.destroy = null;
  }
}

// "Hear yourself as viewers do": a loopback leg through the media server. It joins the busker's own
// show as one more (anonymous) viewer, on its own STOMP session: a session holds one leg per busk,
// and this page's session already holds the presenter's. What it plays is what arrives at a viewer,
// after the sound mode's capture, the Opus encoder and the media server; so it also counts as one
// viewer while it runs.
import { Signaling } from './stomp';
import { Viewer } from './webrtc';

export class SelfMonitor {
  private signaling: Signaling | null = null;
  private viewer: Viewer | null = null;
  private buskId: string | null = null;

  constructor(private readonly audio: HTMLAudioElement, private readonly onState: (s: RTCPeerConnectionState) => void) {}

  get running(): boolean { return !!this.viewer; }

  start(buskId: string, iceServers: RTCIceServer[]): void {
    this.stop();
    this.buskId = buskId;
    const signaling = new Signaling({ token: () => null });
    const viewer = new Viewer({ signaling, buskId, iceServers, onState: (s) => this.onState(s) }, (stream) => {
      this.audio.srcObject = new MediaStream(stream.getAudioTracks());
      void this.audio.play().catch(() => undefined);
    });
    signaling.onConnect(() => { void viewer.negotiate().catch(() => this.onState('failed')); });
    this.signaling = signaling.start();
    this.viewer = viewer;
  }

  stop(): void {
    if (this.buskId) this.signaling?.send(`/app/busk.${this.buskId}.leave`, {});
    this.viewer?.close();
    void this.signaling?.stop();
    this.viewer = null;
    this.signaling = null;
    this.buskId = null;
    this.audio.srcObject = null;
  }
}

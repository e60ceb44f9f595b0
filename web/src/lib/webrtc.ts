// One WebRTC link between this browser and the media server for one busk, negotiated over STOMP
// with trickle ICE (PROTOCOL.md): the Presenter sends the camera, a Viewer receives it.
//
// Every negotiation builds a fresh RTCPeerConnection. A renegotiation happens when the media path
// was lost (`reoffer`), when the STOMP session came back after a drop (the service may have released
// the old endpoint with the old session), or when ICE failed; in all of those the old transport is
// of no use, and a fresh offer is the one thing every media server (real KMS included) accepts.
import type { Signaling } from './stomp';
import type { PeerEvent } from './types';

export interface PeerLinkOptions {
  signaling: Signaling;
  buskId: string;
  iceServers: RTCIceServer[];
  /** What the link reports to the page: 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed'. */
  onState?: (state: RTCPeerConnectionState) => void;
  onError?: (e: Error) => void;
}

abstract class PeerLink {
  pc: RTCPeerConnection | null = null;
  private remoteCandidates: RTCIceCandidateInit[] = [];
  private unsubscribe: () => void;
  private closed = false;
  private lastRestart = 0;

  constructor(protected readonly opts: PeerLinkOptions) {
    this.unsubscribe = opts.signaling.subscribe<PeerEvent>(`/user/queue/busk.${opts.buskId}`, (ev) => void this.onPeerEvent(ev));
  }

  protected abstract addMedia(pc: RTCPeerConnection): void;

  /** Sends a new offer on a new peer connection; the answer arrives on /user/queue/busk.{id}. */
  async negotiate(): Promise<void> {
    if (this.closed) return;
    this.pc?.close();
    this.remoteCandidates = [];
    const pc = new RTCPeerConnection({ iceServers: this.opts.iceServers, bundlePolicy: 'max-bundle' });
    this.pc = pc;
    pc.onicecandidate = (e) => {
      if (!e.candidate || pc !== this.pc) return;
      const c = e.candidate;
      this.opts.signaling.send(`/app/busk.${this.opts.buskId}.ice`, {
        candidate: { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex },
      });
    };
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      this.opts.onState?.(pc.connectionState);
      if (pc.connectionState === 'failed') this.restartSoon();
    };
    this.addMedia(pc);
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    this.opts.onState?.(pc.connectionState);
    await this.opts.signaling.request(`/app/busk.${this.opts.buskId}.offer`, { sdpOffer: pc.localDescription!.sdp });
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    this.pc?.close();
    this.pc = null;
  }

  private async onPeerEvent(ev: PeerEvent): Promise<void> {
    const pc = this.pc;
    if (!pc || this.closed) return;
    try {
      if (ev.type === 'answer') {
        // An answer to an offer this connection did not make (a superseded negotiation): ignore.
        if (pc.signalingState !== 'have-local-offer') return;
        await pc.setRemoteDescription({ type: 'answer', sdp: ev.sdpAnswer });
        const queued = this.remoteCandidates;
        this.remoteCandidates = [];
        for (const c of queued) await pc.addIceCandidate(c).catch(() => undefined);
      } else if (ev.type === 'ice') {
        if (!pc.remoteDescription) this.remoteCandidates.push(ev.candidate);
        else await pc.addIceCandidate(ev.candidate).catch(() => undefined); // a stale generation's candidate
      } else if (ev.type === 'reoffer') {
        await this.negotiate();
      }
    } catch (e) {
      this.opts.onError?.(e as Error);
    }
  }

  /** ICE failed (the network changed under us): offer again, but not in a tight loop. */
  private restartSoon(): void {
    const wait = Math.max(0, this.lastRestart + 5000 - Date.now());
    setTimeout(() => {
      if (this.closed || this.pc?.connectionState !== 'failed') return;
      this.lastRestart = Date.now();
      this.negotiate().catch((e) => this.opts.onError?.(e as Error));
    }, wait);
  }
}

/** The busker's side: sends the camera and microphone. */
export class Presenter extends PeerLink {
  constructor(opts: PeerLinkOptions, private stream: MediaStream) { super(opts); }

  protected addMedia(pc: RTCPeerConnection): void {
    for (const track of this.stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [this.stream] });
  }

  /** A new camera or microphone, swapped in without renegotiating. */
  async useStream(stream: MediaStream): Promise<void> {
    this.stream = stream;
    if (!this.pc) return;
    for (const sender of this.pc.getSenders()) {
      const kind = sender.track?.kind ?? this.pc.getTransceivers().find((t) => t.sender === sender)?.receiver.track.kind;
      const next = stream.getTracks().find((t) => t.kind === kind);
      if (next) await sender.replaceTrack(next);
    }
  }
}

/** An audience member's side: receives the busk. */
export class Viewer extends PeerLink {
  readonly stream = new MediaStream();

  constructor(opts: PeerLinkOptions, private readonly onStream: (stream: MediaStream) => void) { super(opts); }

  protected addMedia(pc: RTCPeerConnection): void {
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.ontrack = (e) => {
      // The newest track of each kind; a new stream object so the <video> reloads its source
      // after a renegotiation replaced the tracks.
      for (const old of this.stream.getTracks().filter((t) => t.kind === e.track.kind)) this.stream.removeTrack(old);
      this.stream.addTrack(e.track);
      this.onStream(new MediaStream(this.stream.getTracks()));
    };
  }
}

// One WebRTC link between this browser and the media server for one busk, negotiated over STOMP
// with trickle ICE (PROTOCOL.md): the Presenter sends the camera, a Viewer receives it.
//
// negotiate() builds a fresh RTCPeerConnection: for the first offer and when the media path was lost
// (`reoffer`). When only the network moved (ICE disconnected or failed, a new network, the STOMP
// session back after a drop), restartIce() offers again on the SAME connection with new ICE
// credentials: senders, tracks and encoders stay, so media resumes as soon as the new path is up.
// The service answers any second offer with a new endpoint (PROTOCOL.md, renegotiation); should the
// browser refuse that answer on the old connection, the link falls back to a fresh negotiate().
import type { Signaling } from './stomp';
import type { PeerEvent } from './types';
import { opusParameters, STEREO_RECEIVE, withOpusParameters, type SoundSettings } from './sound';
import { CONNECT_TIMEOUT_MS } from './connect-timeout';

export interface PeerLinkOptions {
  signaling: Signaling;
  buskId: string;
  iceServers: RTCIceServer[];
  /** What the link reports to the page: 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed'. */
  onState?: (state: RTCPeerConnectionState) => void;
  onError?: (e: Error) => void;
  /** Every offer sent: a fresh connection's, or an ICE restart on the same one. */
  onOffer?: (kind: 'new' | 'ice-restart') => void;
}

const RESTART_GAP_MS = 3000;

abstract class PeerLink {
  pc: RTCPeerConnection | null = null;
  private remoteCandidates: RTCIceCandidateInit[] = [];
  private unsubscribe: () => void;
  private closed = false;
  private lastRestart = 0;
  /** The offer in flight is an ICE restart on the existing connection. */
  private restarting = false;
  private connectTimer: ReturnType<typeof setTimeout> | null = null;

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
    };
    // 'disconnected' is the first sign of a path going away (Wi-Fi lost, a handover): restart at once
    // rather than waiting for 'failed', which takes tens of seconds.
    pc.oniceconnectionstatechange = () => {
      if (pc !== this.pc) return;
      if (pc.iceConnectionState === 'disconnected' || pc.iceConnectionState === 'failed') this.restartSoon();
    };
    this.addMedia(pc);
    this.restarting = false;
    await this.offer(pc, await pc.createOffer());
  }

  /**
   * A new offer with new ICE credentials on the current connection (the network changed). Falls
   * back to negotiate() when there is no usable connection.
   */
  async restartIce(): Promise<void> {
    const pc = this.pc;
    if (this.closed) return;
    if (!pc || pc.connectionState === 'closed' || !pc.remoteDescription) return this.negotiate();
    this.lastRestart = Date.now();
    // An offer whose answer never came (the session dropped meanwhile) is abandoned first.
    if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' });
    this.remoteCandidates = [];
    this.restarting = true;
    await this.offer(pc, await pc.createOffer({ iceRestart: true }));
  }

  /** The offer as this browser applies it (setLocalDescription): what its own receivers must know. */
  protected localOfferText(sdp: string): string { return sdp; }

  /** What the link sends as its offer: the local one, as the subclass wants the service to see it. */
  protected offerText(sdp: string): string { return sdp; }

  /** What the link applies as the answer: the media server's, with what this browser needs to read in it. */
  protected answerText(sdp: string): string { return sdp; }

  private async offer(pc: RTCPeerConnection, offer: RTCSessionDescriptionInit): Promise<void> {
    await pc.setLocalDescription({ type: 'offer', sdp: this.localOfferText(offer.sdp ?? '') });
    this.opts.onState?.(pc.connectionState);
    this.opts.onOffer?.(this.restarting ? 'ice-restart' : 'new');
    await this.opts.signaling.request(`/app/busk.${this.opts.buskId}.offer`, { sdpOffer: this.offerText(pc.localDescription!.sdp) });
  }

  close(): void {
    this.closed = true;
    if (this.connectTimer) clearTimeout(this.connectTimer);
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
        try {
          await pc.setRemoteDescription({ type: 'answer', sdp: this.answerText(ev.sdpAnswer) });
        } catch (e) {
          // The new endpoint's answer does not fit the old connection (a media server that changes
          // its DTLS identity or role per endpoint): start over on a fresh one.
          if (!this.restarting) throw e;
          await this.negotiate();
          return;
        }
        this.restarting = false;
        this.watchConnect(pc);
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

  /** After an answer: a connection not up within CONNECT_TIMEOUT_MS is replaced by a fresh one. */
  private watchConnect(pc: RTCPeerConnection): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(() => {
      this.connectTimer = null;
      if (this.closed || pc !== this.pc || pc.connectionState === 'connected') return;
      this.negotiate().catch((e) => this.opts.onError?.(e as Error));
    }, CONNECT_TIMEOUT_MS);
  }

  /**
   * ICE lost its path: restart at once, but not in a tight loop (a restart that did not help is
   * retried after RESTART_GAP_MS, while the connection is still not connected).
   */
  private restartSoon(): void {
    const wait = Math.max(0, this.lastRestart + RESTART_GAP_MS - Date.now());
    setTimeout(() => {
      const s = this.pc?.iceConnectionState;
      if (this.closed || (s !== 'disconnected' && s !== 'failed')) return;
      if (Date.now() - this.lastRestart < RESTART_GAP_MS) return; // someone else just restarted
      this.restartIce().catch((e) => this.opts.onError?.(e as Error));
    }, wait);
  }
}

/** Send limits for a busker on mobile data ("save data"): the short side and the bitrate. */
export const SAVE_DATA = { shortSide: 480, maxBitrate: 800_000 };

export interface VideoPreference {
  /**
   * Offer H.264 first (a recorded show: its recording and shorts are then MP4, which every
   * browser and phone plays; VP8 records to WebM). Only when this browser can encode H.264.
   */
  h264?: boolean;
}

/**
 * H.264 first in the transceiver's codec list: constrained baseline with packetization-mode 1 (what
 * every WebRTC decoder takes), then the other H.264 profiles, then the browser's own order. The
 * media server answers with the first codec of the offer it can forward to viewers.
 */
export function preferH264(t: RTCRtpTransceiver): boolean {
  const canSend = RTCRtpSender.getCapabilities?.('video')?.codecs.some((c) => c.mimeType.toLowerCase() === 'video/h264');
  const codecs = RTCRtpReceiver.getCapabilities?.('video')?.codecs;
  if (!canSend || !codecs || typeof t.setCodecPreferences !== 'function') return false;
  const rank = (c: { mimeType: string; sdpFmtpLine?: string }) => {
    if (c.mimeType.toLowerCase() !== 'video/h264') return 2;
    const f = c.sdpFmtpLine ?? '';
    return /packetization-mode=1/.test(f) && /profile-level-id=42e0/i.test(f) ? 0 : 1;
  };
  try {
    t.setCodecPreferences(codecs.map((c, i) => ({ c, i })).sort((a, b) => rank(a.c) - rank(b.c) || a.i - b.i).map((x) => x.c));
    return true;
  } catch {
    return false; // the browser's order stays (VP8): the recording is then WebM
  }
}

/** The busker's side: sends the camera and microphone. */
export class Presenter extends PeerLink {
  private saveData = false;
  /** Opus parameters of the sound mode (sound.ts); null: the browser's defaults (voice). */
  private readonly opus: Record<string, string> | null;

  constructor(opts: PeerLinkOptions, private stream: MediaStream, sound?: SoundSettings, private readonly video: VideoPreference = {}) {
    super(opts);
    this.opus = sound ? opusParameters(sound) : null;
  }

  protected addMedia(pc: RTCPeerConnection): void {
    for (const track of this.stream.getTracks()) {
      const t = pc.addTransceiver(track, { direction: 'sendonly', streams: [this.stream] });
      if (track.kind === 'video' && this.video.h264) preferH264(t);
    }
    this.applyLimits().catch(() => undefined); // Broadcast applies them again once live
  }

  /**
   * Upright for every viewer: without the video-orientation header extension in the offer, the
   * answer cannot agree to it, and the browser then rotates the pixels of a turned phone before
   * encoding instead of tagging the frames with a rotation that the media server may not pass on
   * to each viewer.
   */
  protected offerText(sdp: string): string {
    const upright = sdp.split('\r\n').filter((l) => !/^a=extmap:\d+(\/\w+)? urn:3gpp:video-orientation/.test(l)).join('\r\n');
    return this.opus ? withOpusParameters(upright, this.opus) : upright;
  }

  /**
   * The encoder follows the answer's Opus parameters: the engine echoes the offer's, and where a
   * media server leaves them out (KMS answers with its own), the sound mode's are written back.
   */
  protected answerText(sdp: string): string {
    return this.opus ? withOpusParameters(sdp, this.opus) : sdp;
  }

  /** A new camera or microphone, swapped in without renegotiating. */
  async useStream(stream: MediaStream): Promise<void> {
    this.stream = stream;
    if (!this.pc) return;
    for (const sender of this.pc.getSenders()) {
      const kind = sender.track?.kind ?? this.pc.getTransceivers().find((t) => t.sender === sender)?.receiver.track.kind;
      const next = stream.getTracks().find((t) => t.kind === kind);
      if (next && next !== sender.track) await sender.replaceTrack(next);
    }
    await this.applyLimits();
  }

  /** Save data on or off: applied to the running sender, no renegotiation. */
  async setSaveData(on: boolean): Promise<void> {
    this.saveData = on;
    await this.applyLimits();
  }

  /** Re-applies the send limits to the current video track (its size changes with the orientation). */
  async applyLimits(): Promise<void> {
    await this.audioFirst();
    const sender = this.pc?.getSenders().find((s) => s.track?.kind === 'video');
    if (!sender) return;
    const params = sender.getParameters();
    if (!params.encodings?.length) return; // not negotiated yet: addMedia's call is repeated after the answer
    const { width = 0, height = 0 } = sender.track!.getSettings();
    const short = Math.min(width, height);
    for (const enc of params.encodings) {
      if (this.saveData) {
        enc.maxBitrate = SAVE_DATA.maxBitrate;
        enc.scaleResolutionDownBy = short > SAVE_DATA.shortSide ? short / SAVE_DATA.shortSide : 1;
      } else {
        delete enc.maxBitrate;
        enc.scaleResolutionDownBy = 1;
      }
    }
    await sender.setParameters(params).catch(() => undefined); // a sender being replaced: the next call applies
  }

  /**
   * Audio first under pressure: the audio sender's priority is high, so when the uplink shrinks the
   * browser takes the bitrate from video (resolution and frame rate) and leaves the music alone.
   */
  private async audioFirst(): Promise<void> {
    const sender = this.pc?.getSenders().find((s) => s.track?.kind === 'audio');
    if (!sender) return;
    const params = sender.getParameters();
    if (!params.encodings?.length || params.encodings.every((e) => e.priority === 'high')) return;
    for (const enc of params.encodings) { enc.priority = 'high'; enc.networkPriority = 'high'; }
    await sender.setParameters(params).catch(() => undefined);
  }
}

/** An audience member's side: receives the busk. */
export class Viewer extends PeerLink {
  readonly stream = new MediaStream();

  constructor(opts: PeerLinkOptions, private readonly onStream: (stream: MediaStream) => void) { super(opts); }

  /**
   * Stereo if the busk sends it. Chrome decodes Opus as stereo only when both its local description
   * and the remote one say `stereo=1` (with either missing, the busk's stereo plays as mono): the
   * offer is applied (and sent) with it, and the answer applied with it whatever the server said.
   */
  protected localOfferText(sdp: string): string { return withOpusParameters(sdp, STEREO_RECEIVE); }

  protected answerText(sdp: string): string { return withOpusParameters(sdp, STEREO_RECEIVE); }

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

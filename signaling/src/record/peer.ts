// The recorder leg's own WebRTC peer, in this process (werift): receive-only, it offers exactly the
// presenter's codecs to a WebRtcEndpoint in the busk's pipeline and hands every RTP packet it gets
// to its owner. Media leaves the media server the way it leaves for a browser viewer, so the same
// code records from KMS on another host and from the embedded engine, and the files land here.
import { EventEmitter } from 'node:events';
import { RTCPeerConnection, RTCRtpCodecParameters, type RTCRtpTransceiver, type RtpPacket } from 'werift';
import { iceConfig, installDtlsRetransmitFix, installIceAddressFilter } from '../../../kurento/src';
import type { IceCandidate } from '../media';
import type { RecordedCodecs, TrackCodec } from './codecs';

export interface ReceiverPeerOptions {
  codecs: RecordedCodecs;
  /** Address to gather and bind (127.0.0.1 when the service listens there), else every interface. */
  bindAddress?: string;
  portRange?: { min: number; max: number } | null;
  /** STUN/TURN for a media server behind NAT, in werift's form. */
  iceServers?: { urls: string; username?: string; credential?: string }[];
}

export interface ReceiverPeerEvents {
  candidate: [IceCandidate];
  rtp: ['audio' | 'video', TrackCodec, RtpPacket];
  /** ICE or DTLS failed or closed: no more media on this peer. */
  failed: [];
}

const videoFeedback = () => [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }];

export class ReceiverPeer extends EventEmitter {
  private readonly pc: RTCPeerConnection;
  private readonly tx: Partial<Record<'audio' | 'video', RTCRtpTransceiver>> = {};
  private videoSsrc: number | null = null;
  closed = false;

  constructor(readonly o: ReceiverPeerOptions) {
    super();
    installIceAddressFilter();
    installDtlsRetransmitFix();
    const codec = (c: TrackCodec, pt: number) => new RTCRtpCodecParameters({
      mimeType: c.mimeType, clockRate: c.clockRate, channels: c.channels, parameters: c.parameters, payloadType: pt,
      rtcpFeedback: c.frame === 'opus' ? [] : videoFeedback(),
    });
    const cfg = iceConfig({ bindAddress: o.bindAddress, portRange: o.portRange ?? undefined });
    this.pc = new RTCPeerConnection({
      ...cfg, iceServers: o.iceServers ?? [],
      codecs: { audio: o.codecs.audio ? [codec(o.codecs.audio, 111)] : [], video: o.codecs.video ? [codec(o.codecs.video, 96)] : [] },
    });
    for (const kind of ['audio', 'video'] as const) {
      const c = o.codecs[kind];
      if (!c) continue;
      const tx = this.pc.addTransceiver(kind, { direction: 'recvonly' });
      this.tx[kind] = tx;
      tx.onTrack.subscribe((track) => {
        track.onReceiveRtp.subscribe((rtp) => {
          if (this.closed) return;
          if (kind === 'video') this.videoSsrc = rtp.header.ssrc;
          this.emit('rtp', kind, c, rtp);
        });
      });
    }
    this.pc.onIceCandidate.subscribe((c) => {
      if (!c || this.closed) return;
      this.emit('candidate', {
        candidate: c.candidate.startsWith('candidate:') ? c.candidate : `candidate:${c.candidate}`,
        sdpMid: c.sdpMid ?? '0', sdpMLineIndex: c.sdpMLineIndex ?? 0,
      });
    });
    this.pc.connectionStateChange.subscribe((s) => {
      if ((s === 'failed' || s === 'closed') && !this.closed) this.emit('failed');
    });
  }

  override on<E extends keyof ReceiverPeerEvents>(event: E, listener: (...args: ReceiverPeerEvents[E]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this { return super.on(event, listener); }

  async offer(): Promise<string> {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    return this.pc.localDescription!.sdp;
  }

  async answer(sdp: string): Promise<void> {
    if (this.closed) return;
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
  }

  async addCandidate(c: IceCandidate): Promise<void> {
    if (this.closed || !c.candidate) return;
    await this.pc.addIceCandidate({ candidate: c.candidate.replace(/^a=/, ''), sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: c.sdpMLineIndex ?? 0 });
  }

  /** RTCP PLI to the media server, which passes it on to the presenter: the next video frame is a keyframe. */
  requestKeyframe(): void {
    const tx = this.tx.video;
    if (!tx || this.videoSsrc === null || this.closed) return;
    tx.receiver.sendRtcpPLI(this.videoSsrc).catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.removeAllListeners();
    await this.pc.close().catch(() => undefined);
  }
}

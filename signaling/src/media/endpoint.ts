// One WebRtcEndpoint on a media server: a presenter's (source) or a viewer's (sink).
import { EventEmitter } from 'node:events';
import { KObject, KWebRtc, kcall, kurento } from './kurento';
import { mediaCall, withTimeout } from './errors';

import type { IceCandidate } from '../protocol';

export type { IceCandidate };

export interface EndpointEvents {
  candidate: [IceCandidate];
  /** KMS MediaFlowInStateChanged: media from the remote peer into this endpoint, per kind. */
  'flow-in': [{ kind: 'audio' | 'video'; flowing: boolean }];
  /** KMS IceGatheringDone: every local candidate has been found. */
  gathered: [];
  /** KMS MediaStateChanged: the peer's transport (RTCP) up or down. */
  'media-state': [connected: boolean];
  /** Released, or gone with its pipeline or media server session: its pipeline forgets it. */
  close: [];
}

/**
 * kurento-client emits 'error' on a media object when an event subscription fails, and refuses an
 * 'error' listener ("doesn't accept events of type 'error'"), so such a failure would be an uncaught
 * exception. We add the listener underneath its 'newListener' guard.
 */
export function guardErrors(obj: KObject & { listeners?(e: string): Function[] }, onError: (e: unknown) => void): void {
  const ee = obj as unknown as EventEmitter;
  const guards = ee.listeners('newListener');
  ee.removeAllListeners('newListener');
  ee.on('error', onError);
  for (const g of guards) ee.on('newListener', g as (...a: any[]) => void);
}

export class Endpoint extends EventEmitter<EndpointEvents> {
  private released = false;

  constructor(readonly k: KWebRtc, readonly pipelineId: string, private readonly timeoutMs: number) {
    super();
    guardErrors(k, () => { /* object gone: whoever owns it is tearing down */ });
  }

  get id(): string { return this.k.id; }

  /** Subscribes to the endpoint's events; must run before gatherCandidates (same socket, in order). */
  listen(opts: { candidates: boolean; flow: boolean; gathering?: boolean; mediaState?: boolean }): void {
    if (opts.candidates) {
      this.k.on('IceCandidateFound', (ev: { candidate: IceCandidate }) => {
        const c = ev.candidate;
        this.emit('candidate', { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex });
      });
    }
    // Only for peers that take the candidates in one answer (WHIP, WHEP): one more subscription.
    if (opts.gathering) this.k.on('IceGatheringDone', () => this.emit('gathered'));
    if (opts.mediaState) this.k.on('MediaStateChanged', (ev: { newState: string }) => this.emit('media-state', ev.newState === 'CONNECTED'));
    if (opts.flow) {
      this.k.on('MediaFlowInStateChanged', (ev: { state: string; mediaType: string }) => {
        const kind = String(ev.mediaType).toLowerCase() === 'audio' ? 'audio' : 'video';
        this.emit('flow-in', { kind, flowing: ev.state === 'FLOWING' });
      });
    }
  }

  processOffer(sdp: string): Promise<string> {
    return mediaCall<string>((cb) => this.k.processOffer(sdp, cb), this.timeoutMs, 'processOffer', 'the media server could not use this SDP offer');
  }

  /**
   * The video bitrate this endpoint may receive (a presenter's: the REMB cap) or send (a viewer's:
   * the most its REMB may ask of the presenter), in kbps, as KMS's bandwidth properties.
   */
  limitVideo(direction: 'recv' | 'send', kbps: number): Promise<void> {
    return withTimeout(kcall<void>((cb) => (direction === 'recv' ? this.k.setMaxVideoRecvBandwidth(kbps, cb) : this.k.setMaxVideoSendBandwidth(kbps, cb))), this.timeoutMs, 'set video bandwidth');
  }

  gatherCandidates(): Promise<void> { return withTimeout(kcall<void>((cb) => this.k.gatherCandidates(cb)), this.timeoutMs, 'gatherCandidates'); }

  addIceCandidate(c: IceCandidate): Promise<void> {
    const ice = kurento.getComplexType('IceCandidate')({ candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex });
    return withTimeout(kcall<void>((cb) => this.k.addIceCandidate(ice, cb)), this.timeoutMs, 'addIceCandidate');
  }

  connect(sink: Endpoint): Promise<void> { return withTimeout(kcall<void>((cb) => this.k.connect(sink.k, cb)), this.timeoutMs, 'connect'); }

  get isReleased() { return this.released; }

  /** Gone without a media server call (its pipeline was released or its server session lost). */
  lost(): void {
    if (this.released) return;
    this.released = true;
    this.emit('close');
    this.removeAllListeners();
  }

  /** Idempotent; never throws (the object may be gone with its media server session). */
  async release(): Promise<void> {
    if (this.released) return;
    this.lost();
    try {
      await withTimeout(kcall<void>((cb) => this.k.release(cb)), this.timeoutMs, 'release');
    } catch { /* already gone */ }
  }
}

// One WHIP (publishing) or WHEP (playing) session: an HTTP resource standing for a presenter or a
// viewer leg of a busk. It is the leg's PeerChannel: the busk service's answer and the media
// server's candidates come here and are handed back as one SDP answer; a `reoffer` (the media server
// restarted) cannot reach an HTTP client, so the session ends and the client's own recovery (OBS
// reconnects, a WHEP player starts again) takes over.
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IceCandidate } from '../media';
import type { PeerChannel } from '../busk/context';
import type { PeerMessage } from '../protocol';
import { AppError } from '../stomp';
import { iceUfrag, mids, withCandidates } from './sdp';

export type SessionKind = 'whip' | 'whep';

/** How long an answer waits for the media server's IceGatheringDone before going with what it has. */
export const GATHER_WAIT_MS = 3000;
/**
 * Candidates come in a burst after gatherCandidates; IceGatheringDone can come seconds later (the
 * embedded engine's werift ends gathering only when its slowest interface or STUN check gives up).
 * Once the burst has been quiet this long, the answer goes with the candidates it has.
 */
export const CANDIDATE_QUIET_MS = 250;

export interface WhipSessionEvents {
  /** The media server asked for a new offer: the leg is gone. */
  lost: [reason: string];
  close: [];
}

export class WhipSession extends EventEmitter<WhipSessionEvents> implements PeerChannel {
  readonly id = crypto.randomBytes(12).toString('base64url');
  /** Never a STOMP session id (those have no ':'): the busk service's session for this leg. */
  readonly sessionId: string;
  readonly createdAt = Date.now();
  readonly offerMids: string[];
  /** The ICE session's entity tag (RFC 9725 §4.3.1): a new one after an ICE restart. */
  etag = `"${crypto.randomBytes(8).toString('hex')}"`;
  buskId = '';
  /** Last time the busk was seen with media flowing (WHIP): a presenter gone silent is ended. */
  lastFlowingAt = Date.now();
  /** WHEP: whether the leg's transport has ever come up, and since when it is down. */
  connectedOnce = false;
  downSince: number | null = null;
  private closed = false;
  private answer: string | null = null;
  private readonly candidates: IceCandidate[] = [];
  /** Gathering is done, or the candidates went quiet: the answer can go. */
  private settled = false;
  private onSettled: (() => void) | null = null;
  private quietTimer: NodeJS.Timeout | undefined;

  constructor(readonly kind: SessionKind, readonly userId: string, readonly offer: string) {
    super();
    this.sessionId = `${kind}:${this.id}`;
    this.offerMids = mids(offer);
  }

  get clientUfrag(): string | null { return iceUfrag(this.offer); }

  send(msg: PeerMessage): void {
    if (msg.type === 'answer') this.answer = msg.sdpAnswer;
    else if (msg.type === 'ice') {
      this.candidates.push(msg.candidate);
      clearTimeout(this.quietTimer);
      this.quietTimer = setTimeout(() => this.settle(), CANDIDATE_QUIET_MS);
    }
    else if (msg.type === 'reoffer') this.emit('lost', msg.reason);
  }

  gathered(): void { this.settle(); }

  private settle(): void {
    this.settled = true;
    clearTimeout(this.quietTimer);
    this.onSettled?.();
  }

  mediaState(connected: boolean): void {
    if (connected) { this.connectedOnce = true; this.downSince = null; } else this.downSince ??= Date.now();
  }

  isOpen(): boolean { return !this.closed; }

  /** The answer with the candidates found once gathering is done, or quiet, or after GATHER_WAIT_MS. */
  async completeAnswer(waitMs = GATHER_WAIT_MS): Promise<string> {
    if (this.answer === null) throw new AppError('unavailable', 'the media server gave no answer');
    if (!this.settled) {
      let cap: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => { this.onSettled = resolve; cap = setTimeout(resolve, waitMs); });
      clearTimeout(cap);
      this.onSettled = null;
    }
    return withCandidates(this.answer, this.candidates);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.quietTimer);
    this.emit('close');
    this.removeAllListeners();
  }
}

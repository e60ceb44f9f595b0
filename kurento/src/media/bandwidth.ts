// What the engine tells a presenter it may send (REMB), from what its viewers can take, as KMS does
// (kms-core's KmsRembLocal/KmsRembRemote): each sink's latest REMB, held within that sink's
// [minVideoSendBandwidth, maxVideoSendBandwidth], the lowest of them, under the presenter
// endpoint's own maxVideoRecvBandwidth. Media is forwarded, not transcoded, so one slow viewer lowers
// the video for everyone, down to minVideoSendBandwidth (KMS's trade-off too, 100 kbps by default).
//
// Unlike KMS, the audio the sink receives is taken off its estimate first. A viewer's REMB estimates
// everything it receives, audio included, while a browser sender gives the whole REMB to video (audio
// is outside its bandwidth allocation without transport-cc). Passing the viewer's figure on unchanged
// would keep the link over capacity by the audio's bitrate, so the loss would hit the music too; with
// the audio taken off, the video gives way and the audio keeps flowing.

/**
 * A viewer's loss, from its RTCP receiver reports, as a bitrate it can take: the loss-based half of
 * GCC (draft-ietf-rmcat-gcc, section 6), run here because the presenter's browser never sees the
 * viewers' reports (the engine answers for its own receiving). A viewer's REMB is delay-based only,
 * and a link that polices (drops) instead of queueing never shows in it: a relay capped under the
 * busk's rate lost 90 % of the audio while the viewer's REMB still said 500 kbps.
 *
 * Tighter than GCC, for music: GCC holds between 2 % and 10 % loss and cuts by half the loss rate;
 * here it holds only between 1 % and 5 % and cuts by the whole loss rate (to what was sent times
 * 1 − loss, never below half of it), because a policer drops small audio packets as readily as
 * video and a few percent are heard. And it remembers: growing 5 % a second as soon as the loss
 * stopped kept finding the edge again, and every time the presenter's encoder overshot it for a
 * second or two before the next cut, so a viewer behind a 360 kbps relay lost 9–19 % of the audio
 * in the seconds after the limit had settled. So after any loss the limit is held for
 * `HOLD_AFTER_LOSS_MS`, then probes upwards by 2 % a second; a step that brings 1–5 % loss back is
 * undone at once (and the hold starts again), more than 5 % cuts as before. Each change at most once
 * a second (a viewer sends a report per stream). The limit is dropped once it no longer binds (above
 * twice what is sent).
 */
export class LossEstimate {
  bps = 0;
  at = 0;
  private lastChange = -Infinity;
  /** When a report last showed 1 % loss or more. */
  private lossAt = -Infinity;
  /** The limit before the latest probing step (0: the latest change was not one). */
  private beforeStep = 0;

  /** `fraction`: the worst fraction lost of one report (0–1); `sentBps`: what this sink was sent lately. */
  report(fraction: number, sentBps: number, now: number): void {
    if (sentBps <= 0) return;
    if (this.bps > 0) this.at = now; // a limit stays current while the viewer keeps reporting (ESTIMATE_TTL_MS)
    if (fraction >= 0.01) this.lossAt = now;
    if (now - this.lastChange < 1000) return;
    if (fraction > 0.05) {
      this.bps = sentBps * Math.max(0.5, 1 - fraction);
      this.beforeStep = 0;
    } else if (fraction >= 0.01) {
      if (!this.beforeStep) return; // a link that loses a little by itself: hold
      this.bps = this.beforeStep; // the step up found the edge: back to below it
      this.beforeStep = 0;
    } else if (this.bps > 0 && now - this.lossAt >= HOLD_AFTER_LOSS_MS) {
      this.beforeStep = this.bps;
      this.bps *= 1.02;
      if (this.bps > 2 * sentBps) { this.bps = 0; this.beforeStep = 0; return; }
    } else {
      return;
    }
    this.lastChange = now;
    this.at = now;
  }
}

/** How long a loss limit stays where loss put it before it probes upwards again. */
export const HOLD_AFTER_LOSS_MS = 20_000;

/** An RTP packet's size as a receiver's estimate counts it: fixed header, CSRCs, payload. */
export function rtpBytes(header: { csrcLength: number }, payload: { length: number }): number {
  return 12 + 4 * header.csrcLength + payload.length;
}

/** A sink's bandwidth limits (kbps, as the KMS properties) and its remote's latest REMB. */
export interface SinkBandwidth {
  readonly minVideoSendKbps: number;
  readonly maxVideoSendKbps: number;
  /** Bits per second the sink's remote said it can take, and when (ms, Date.now()). */
  readonly remoteEstimate: { bps: number; at: number } | null;
}

/** A REMB older than this no longer limits (a viewer that stopped sending REMB, or left). */
export const ESTIMATE_TTL_MS = 5000;

/**
 * The video bitrate (bps) to advertise to the source's sender, or 0 for none (no limit known).
 * `audioBps` is the audio the source receives (and every sink is sent).
 */
export function videoBudget(maxVideoRecvBps: number, sinks: readonly SinkBandwidth[], audioBps: number, now: number): number {
  let budget = maxVideoRecvBps > 0 ? maxVideoRecvBps : Infinity;
  for (const s of sinks) {
    const e = s.remoteEstimate;
    if (!e || now - e.at > ESTIMATE_TTL_MS) continue;
    const min = s.minVideoSendKbps * 1000;
    const max = s.maxVideoSendKbps > 0 ? s.maxVideoSendKbps * 1000 : Infinity;
    budget = Math.min(budget, Math.min(max, Math.max(min, e.bps - audioBps)));
  }
  return Number.isFinite(budget) ? Math.round(budget) : 0;
}

/**
 * A REMB bitrate as its wire fields: an 18-bit mantissa and a 6-bit exponent. werift 0.24 serialises
 * only these (its `bitrate` field is read on parsing, never written): a REMB made with `bitrate`
 * alone went out as 0 bps, and browsers ignored it, so maxVideoRecvBandwidth never limited anyone.
 */
export function rembBitrate(bps: number): { brExp: number; brMantissa: number; bitrate: bigint } {
  let mantissa = Math.max(0, Math.floor(bps));
  let exp = 0;
  while (mantissa >= 1 << 18) { mantissa = Math.floor(mantissa / 2); exp++; }
  return { brExp: exp, brMantissa: mantissa, bitrate: BigInt(mantissa) << BigInt(exp) };
}

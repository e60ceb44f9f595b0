// werift 0.24 hands a keyframe request (RTCP PLI, payload-specific feedback) to whatever its SSRC
// table holds for the packet's *sender* SSRC before it looks at the *media source* SSRC, the one the
// request is about (RFC 4585 6.1). A remote peer whose own sending SSRC is in its SDP (any werift
// peer, the signaling service's recorder leg, a browser that also sends) has that SSRC registered
// here as one of our receivers, so its PLIs went to that receiver and were dropped: the presenter
// was never asked, and a recording or viewer that lost a packet waited for a keyframe forever.
// Routed here by the media source first, as KMS does; everything else as werift does.
import { ReceiverEstimatedMaxBitrate, RtcpPayloadSpecificFeedback, RtcpRrPacket, RtcpSrPacket, type RTCPeerConnection, type RtcpPacket } from 'werift';

/** What the remote's RTCP says about its reception (bandwidth.ts turns it into a limit). */
export interface ReceptionListener {
  /** A REMB: the remote's estimate of what it can receive, in bits per second. */
  onRemb?(bps: number): void;
  /** A receiver report (RR, or the reports in an SR): the worst fraction lost in it, 0–1. */
  onLoss?(fraction: number): void;
}

interface RtcpRecipient { handleRtcpPacket(packet: RtcpPacket): void }
interface RouterLike { ssrcTable: Record<number, RtcpRecipient | undefined>; routeRtcp: (packet: RtcpPacket) => void }

/** Makes `pc` route payload-specific feedback (PLI) by its media source SSRC; `listener` hears REMBs and loss. */
export function routeFeedbackByMediaSource(pc: RTCPeerConnection, listener: ReceptionListener = {}): void {
  const router = (pc as unknown as { router?: RouterLike }).router;
  if (!router || typeof router.routeRtcp !== 'function' || !router.ssrcTable) return; // werift's layout changed
  const werift = router.routeRtcp;
  router.routeRtcp = (packet: RtcpPacket) => {
    if (packet.type === RtcpPayloadSpecificFeedback.type) {
      const feedback = (packet as RtcpPayloadSpecificFeedback).feedback as { count: number; mediaSsrc?: number; bitrate?: bigint };
      if (feedback.count === ReceiverEstimatedMaxBitrate.count && feedback.bitrate !== undefined) listener.onRemb?.(Number(feedback.bitrate));
      const about = feedback.count !== ReceiverEstimatedMaxBitrate.count && feedback.mediaSsrc ? router.ssrcTable[feedback.mediaSsrc] : undefined;
      if (about) { about.handleRtcpPacket(packet); return; }
    } else if ((packet.type === RtcpRrPacket.type || packet.type === RtcpSrPacket.type) && listener.onLoss) {
      const reports = (packet as RtcpRrPacket | RtcpSrPacket).reports;
      if (reports.length) listener.onLoss(Math.max(...reports.map((r) => r.fractionLost)) / 256);
    }
    werift(packet);
  };
}

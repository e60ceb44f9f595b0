// getStats of a WebRtcEndpoint in KMS's shape (kurento-client-core's complex types): one
// RTCInboundRTPStreamStats per stream received, one RTCOutboundRTPStreamStats per stream sent, and the
// endpoint's EndpointStats, keyed by their ids. Figures are the peer's (media/peer.ts rtpStats());
// latencies KMS measures inside its GStreamer pipeline have no counterpart in a forwarder and read 0.
import type { MediaKind, RtpStreamStats } from '../media/types';
import { complexType } from './complex-types';

export function endpointStats(endpointId: string, streams: readonly RtpStreamStats[], kind: MediaKind | null, nowMs: number): Record<string, unknown> {
  const stamp = { timestamp: nowMs / 1000, timestampMillis: nowMs };
  const out: Record<string, unknown> = {
    [endpointId]: complexType('EndpointStats', {
      id: endpointId, type: 'endpoint', ...stamp, inputAudioLatency: 0, inputVideoLatency: 0,
      inputLatency: [], audioE2ELatency: [], videoE2ELatency: [], E2ELatency: [],
    }),
  };
  for (const s of streams) {
    if (kind && s.kind !== kind) continue;
    const id = `${s.direction === 'inbound' ? 'RTCInboundRTPStreamStats' : 'RTCOutboundRTPStreamStats'}_${s.kind}_${s.ssrc}`;
    const common = {
      id, ...stamp, ssrc: String(s.ssrc), associateStatsId: '', isRemote: false, mediaTrackId: '', transportId: '',
      codecId: '', firCount: s.firCount, pliCount: s.pliCount, nackCount: s.nackCount, sliCount: 0,
      remb: s.remb, packetsLost: s.packetsLost, fractionLost: s.fractionLost,
    };
    out[id] = s.direction === 'inbound'
      ? complexType('RTCInboundRTPStreamStats', { ...common, type: 'inboundrtp', packetsReceived: s.packets, bytesReceived: s.bytes, jitter: s.jitter })
      : complexType('RTCOutboundRTPStreamStats', {
        ...common, type: 'outboundrtp', packetsSent: s.packets, bytesSent: s.bytes,
        // What this sink is sent now (bps): the forwarder does not encode, so its "target" is the rate.
        targetBitrate: s.bitrate, roundTripTime: s.roundTripTime,
      });
  }
  return out;
}

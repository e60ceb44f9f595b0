// Recording without re-encoding: RTP → frames (Depacketizer) → WebM / fragmented MP4 (MediaWriter).
// Independent of the Kurento object model: the engine's RecorderEndpoint and the signaling
// service's recording leg both use it.
export * from './types';
export { Depacketizer, startsKeyframe } from './depacketize';
export { MediaWriter, type Container, type FragmentSink, type MediaWriterOptions } from './media-writer';
export { RtpFrames, type RtpFramesOptions } from './rtp-frames';

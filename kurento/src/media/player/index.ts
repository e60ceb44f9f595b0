// Files played as media sources (KMS's PlayerEndpoint): read, packetized to RTP, fed to sinks.
export { PlayerSource, type PlayerState, type PlayerSourceEvents } from './player-source';
export { MediaFile, PlayerError, type FileFrame, type FileTrack } from './media-file';
export { packetize, h264Nals, parseAvcC, MAX_PAYLOAD, type H264Parameters, type RtpPayload } from './packetize';

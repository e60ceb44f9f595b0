/**
 * An applied answer whose connection is still not up this long after: the web client starts over on a
 * fresh connection (web/src/lib/webrtc.ts; the test legs do the same, signaling/test/support/legs.ts).
 * ICE that never gets a pair to work reports neither 'disconnected' nor, for a long while, 'failed'
 * (a libwebrtc peer was seen in 'checking' for minutes after a media server restart, its one pair
 * never tried), and nothing else would ever retry it.
 */
export const CONNECT_TIMEOUT_MS = 15000;

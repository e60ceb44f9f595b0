// Forwarded RTP out to one sink, on the engine's hot path (issue 13: about a third of a forwarded
// packet's CPU was werift's per-packet machinery, not the crypto or the socket). werift's
// RTCRtpSender.sendRtp builds two RtpHeader objects per packet (fifteen defineProperty calls each),
// maps, filters and sorts the extension list, formats the NTP time through a string, and chains three
// promises down to the socket. This writes the sink's header straight into bytes, encrypts with the
// sender's own SRTP session keys (AES-GCM or AES-CM + HMAC-SHA1, byte for byte what werift's ciphers
// produce: kurento/test/rtp-send.test.ts) and sends the datagram on the pair's socket: through the
// native addon (native.ts: a keyed cipher per sender, sendto() on werift's socket, one call) where it
// is built, else with node:crypto and dgram.
//
// What werift's sender keeps per packet is kept the same way, so everything else in werift works on
// it unchanged: sequence number and timestamp (its replaceRTP offsets), the SRTP rollover counter,
// the RTCP sender report's octet/packet counts and NTP/RTP time pair, the NACK history (rtpCache,
// whose packets are only turned back into RtpHeaders when a NACK asks for one), the transport's
// and the ICE pair's counters. Anything unusual (RED, transport-cc, a relayed or TCP pair, a layout
// of werift's that changed) takes werift's own path.
import crypto from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type dgram from 'node:dgram';
import { RtpHeader, type RTCRtpSender, type RtpPacket } from 'werift';
import { nativeSend, socketFd, socketHandle, type NativeContext, type NativeSend } from './native';

/** werift's RTP_HISTORY_SIZE: its NACK handler looks a sequence number up at `seq % 128`. */
const HISTORY = 128;
const GCM_PROFILE = 0x0007; // SRTP_AEAD_AES_128_GCM (RFC 7714)
const CM_PROFILE = 0x0001; // SRTP_AES128_CM_HMAC_SHA1_80 (RFC 3711)
const ONE_BYTE = 0xbede;
const TWO_BYTE = 0x1000;
const NTP_EPOCH_S = 2208988800; // 1900 → 1970

const URI = {
  mid: 'urn:ietf:params:rtp-hdrext:sdes:mid',
  rid: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  rrid: 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
  absSendTime: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  transportCc: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
};

export interface Extension { id: number; payload: Buffer }

// ---- the clock, once per millisecond ---------------------------------------------------------
let clockMs = -1;
let ntpNow = 0n;
const absSendTime = Buffer.alloc(3);
/** RFC 3550 NTP time and abs-send-time (6.18 fixed-point seconds), refreshed when the millisecond changes. */
function tick(): void {
  const now = performance.timeOrigin + performance.now();
  const ms = Math.floor(now);
  if (ms === clockMs) return;
  clockMs = ms;
  const sec = Math.floor(now / 1000);
  const frac = (now - sec * 1000) / 1000;
  const ntpSec = sec + NTP_EPOCH_S;
  ntpNow = (BigInt(ntpSec) << 32n) | BigInt(Math.floor(frac * 0x100000000));
  const abs = (((ntpSec & 0x3f) << 18) | Math.floor(frac * 0x40000)) & 0xffffff;
  absSendTime[0] = abs >>> 16; absSendTime[1] = (abs >>> 8) & 0xff; absSendTime[2] = abs & 0xff;
}

// ---- SRTP ------------------------------------------------------------------------------------
export interface SrtpKeys {
  gcm: boolean; key: crypto.KeyObject; salt: Buffer; auth: Buffer | null; tagLength: number;
  /** The key's bytes, for the native addon's context (made on the first native send; null: keys it refused). */
  raw?: Buffer; native?: NativeContext | null;
}
interface SrtpContextLike {
  profile: number;
  cipher: { srtpSessionKey: Buffer; srtpSessionSalt: Buffer; srtpSessionAuthTag?: Buffer };
  getSrtpSsrcState(ssrc: number): { rolloverCounter: number };
  updateRolloverCount(seq: number, state: { rolloverCounter: number }): void;
}
const keysOf = new WeakMap<object, SrtpKeys | null>();
function keys(ctx: SrtpContextLike): SrtpKeys | null {
  let k = keysOf.get(ctx.cipher);
  if (k === undefined) {
    const c = ctx.cipher;
    const gcm = ctx.profile === GCM_PROFILE;
    k = (gcm || ctx.profile === CM_PROFILE) && Buffer.isBuffer(c?.srtpSessionKey) && Buffer.isBuffer(c.srtpSessionSalt) && (gcm || Buffer.isBuffer(c.srtpSessionAuthTag))
      ? { gcm, key: crypto.createSecretKey(c.srtpSessionKey), raw: c.srtpSessionKey, salt: c.srtpSessionSalt, auth: gcm ? null : c.srtpSessionAuthTag!, tagLength: gcm ? 16 : 10 }
      : null;
    keysOf.set(ctx.cipher, k);
  }
  return k;
}

/**
 * SRTP-protects one packet (clear header `hdr`, `payload`) under `k` with rollover counter `roc`:
 * AES-GCM per RFC 7714 §8 (header as AAD, IV from SSRC, ROC and sequence number) or AES-CM per
 * RFC 3711 §4.1 with an 80-bit HMAC-SHA1 tag over header, ciphertext and ROC.
 */
export function protectRtp(k: SrtpKeys, hdr: Buffer, payload: Buffer, ssrc: number, seq: number, roc: number): Buffer {
  const out = Buffer.allocUnsafe(hdr.length + payload.length + k.tagLength);
  hdr.copy(out, 0);
  if (k.gcm) {
    const iv = Buffer.allocUnsafe(12);
    iv.writeUInt16BE(0, 0); iv.writeUInt32BE(ssrc, 2); iv.writeUInt32BE(roc, 6); iv.writeUInt16BE(seq, 10);
    for (let i = 0; i < 12; i++) iv[i]! ^= k.salt[i]!;
    const c = crypto.createCipheriv('aes-128-gcm', k.key, iv);
    c.setAAD(hdr);
    c.update(payload).copy(out, hdr.length);
    c.final();
    c.getAuthTag().copy(out, hdr.length + payload.length);
  } else {
    const iv = Buffer.alloc(16);
    iv.writeUInt32BE(ssrc, 4); iv.writeUInt32BE(roc, 8); iv.writeUInt16BE(seq, 12);
    for (let i = 0; i < k.salt.length; i++) iv[i]! ^= k.salt[i]!;
    const c = crypto.createCipheriv('aes-128-ctr', k.key, iv);
    c.update(payload).copy(out, hdr.length);
    const rocBytes = Buffer.allocUnsafe(4); rocBytes.writeUInt32BE(roc, 0);
    const mac = crypto.createHmac('sha1', k.auth!).update(out.subarray(0, hdr.length + payload.length)).update(rocBytes).digest();
    mac.copy(out, hdr.length + payload.length, 0, 10);
  }
  return out;
}

// ---- the RTP header --------------------------------------------------------------------------
export interface HeaderFields {
  marker: boolean; payloadType: number; sequenceNumber: number; timestamp: number; ssrc: number;
  csrc: readonly number[]; extensions: readonly Extension[];
}

/**
 * The header's bytes (RFC 3550 §5.1, extensions per RFC 8285): one-byte extension elements when every
 * id is 1-14 and every value 1-16 bytes, two-byte ones otherwise; no padding bit (forwarded payloads
 * carry none: werift strips it on receipt).
 */
export function writeHeader(f: HeaderFields): Buffer {
  const exts = f.extensions;
  let oneByte = true;
  let extBytes = 0;
  for (let i = 0; i < exts.length; i++) {
    const e = exts[i]!;
    if (e.id < 1 || e.id > 14 || e.payload.length < 1 || e.payload.length > 16) oneByte = false;
  }
  for (let i = 0; i < exts.length; i++) extBytes += (oneByte ? 1 : 2) + exts[i]!.payload.length;
  const extWords = Math.ceil(extBytes / 4);
  const size = 12 + 4 * f.csrc.length + (exts.length > 0 ? 4 + 4 * extWords : 0);
  const b = Buffer.allocUnsafe(size);
  b[0] = 0x80 | (exts.length > 0 ? 0x10 : 0) | (f.csrc.length & 0x0f);
  b[1] = (f.marker ? 0x80 : 0) | (f.payloadType & 0x7f);
  b.writeUInt16BE(f.sequenceNumber, 2);
  b.writeUInt32BE(f.timestamp >>> 0, 4);
  b.writeUInt32BE(f.ssrc >>> 0, 8);
  let o = 12;
  for (let i = 0; i < f.csrc.length; i++, o += 4) b.writeUInt32BE(f.csrc[i]! >>> 0, o);
  if (exts.length > 0) {
    b.writeUInt16BE(oneByte ? ONE_BYTE : TWO_BYTE, o);
    b.writeUInt16BE(extWords, o + 2);
    o += 4;
    for (let i = 0; i < exts.length; i++) {
      const e = exts[i]!;
      if (oneByte) b[o++] = (e.id << 4) | (e.payload.length - 1);
      else { b[o++] = e.id; b[o++] = e.payload.length; }
      e.payload.copy(b, o);
      o += e.payload.length;
    }
    b.fill(0, o, size);
  }
  return b;
}

/** A sent packet as werift's NACK handler reads it from rtpCache: `header` is made only when asked. */
class SentRtp {
  private parsed: RtpHeader | null = null;
  constructor(private readonly hdr: Buffer, readonly payload: Buffer) {}
  get header(): RtpHeader { return (this.parsed ??= RtpHeader.deSerialize(this.hdr)); }
}

// ---- the sender ------------------------------------------------------------------------------
/** What of werift's RTCRtpSender (0.24) this reads and keeps up to date. */
interface SenderInternals {
  ssrc: number; mid?: string; rtpStreamId?: string; repairedRtpStreamId?: string;
  codec?: { payloadType: number };
  headerExtensions: { id: number; uri: string }[];
  seqOffset: number; timestampOffset: number; sequenceNumber?: number; timestamp?: number;
  ntpTimestamp: bigint; rtpTimestamp: number; octetCount: number; packetCount: number; headerBytesSent: number;
  rtpCache: unknown[]; rtcpRunning: boolean; redRedundantPayloadType?: number;
  runRtcp(): void;
  dtlsTransport: {
    state: string; bytesSent: number; packetsSent: number;
    srtp?: { localContext?: SrtpContextLike };
    iceTransport: { connection: { nominated?: PairLike; canSendApplicationData?(): boolean; send(d: Buffer): Promise<void> } };
  };
}
interface PairLike { remoteAddr: [string, number]; packetsSent: number; bytesSent: number; protocol: { transport?: { type?: string; closed?: boolean; socket?: dgram.Socket } } }

/** The sender's own extensions, per packet: mid / rid / rrid values (fixed) and where abs-send-time goes. */
interface Stamp {
  of: SenderInternals['headerExtensions']; mid?: string; fixed: Extension[]; absSendTimeId: number; fast: boolean;
  /** The SRTP rollover state of the sender's SSRC in its current session (werift keeps them in a dictionary keyed by SSRC). */
  srtp?: { ctx: SrtpContextLike; ssrc: number; state: { rolloverCounter: number } };
  /** The keys of the sender's current SRTP session (a new DTLS session brings a new cipher object). */
  cipher?: object; keys?: SrtpKeys | null;
}
const stamps = new WeakMap<object, Stamp>();
function stampOf(s: SenderInternals): Stamp {
  let st = stamps.get(s);
  // werift gives a renegotiated sender a new extension list (and maybe a new mid): derive again then.
  if (!st || st.of !== s.headerExtensions || st.mid !== s.mid) {
    const fixed: Extension[] = [];
    let absSendTimeId = 0;
    let fast = s.redRedundantPayloadType === undefined;
    for (const e of s.headerExtensions) {
      if (e.uri === URI.mid && s.mid) fixed.push({ id: e.id, payload: Buffer.from(s.mid) });
      else if (e.uri === URI.rid && s.rtpStreamId) fixed.push({ id: e.id, payload: Buffer.from(s.rtpStreamId) });
      else if (e.uri === URI.rrid && s.repairedRtpStreamId) fixed.push({ id: e.id, payload: Buffer.from(s.repairedRtpStreamId) });
      else if (e.uri === URI.absSendTime) absSendTimeId = e.id;
      else if (e.uri === URI.transportCc) fast = false; // werift's send-side estimator wants every packet
    }
    st = { of: s.headerExtensions, mid: s.mid, fixed, absSendTimeId, fast };
    stamps.set(s, st);
  }
  return st;
}
/**
 * Sends `payload` to the sink behind `sender` with the source packet's `marker`, `sequenceNumber`,
 * `timestamp` and `csrc` (the sender's offsets applied) as `payloadType`, with `extensions` (the
 * source's, already mapped to the sink's ids) merged over the sender's own as werift does: the
 * sender's mid / abs-send-time, a source extension with the same id replacing its value, ids in order.
 * Returns false, having sent nothing, where this path does not apply: the caller uses werift's sendRtp.
 */
export function sendForwarded(sender: RTCRtpSender, src: RtpPacket, payloadType: number, extensions: readonly Extension[]): boolean {
  const s = sender as unknown as SenderInternals;
  const dtls = s.dtlsTransport;
  const ctx = dtls.srtp?.localContext;
  const st = stampOf(s);
  let k: SrtpKeys | null = null;
  if (ctx && st.fast) {
    if (st.cipher !== ctx.cipher) { st.cipher = ctx.cipher; st.keys = keys(ctx); }
    k = st.keys ?? null;
  }
  const pair = dtls.iceTransport.connection.nominated;
  const transport = pair?.protocol.transport;
  if (!k || !ctx || !pair || transport?.type !== 'udp' || !transport.socket || typeof s.runRtcp !== 'function' || !Array.isArray(s.rtpCache) || !directAddress(pair)) return false;
  const ice = dtls.iceTransport.connection;
  // werift drops these silently too: not connected, no codec yet, socket closed, consent expired (RFC 7675).
  if (dtls.state !== 'connected' || !s.codec || transport.closed || (ice.canSendApplicationData && !ice.canSendApplicationData())) return true;

  tick();
  const h = src.header;
  const seq = (h.sequenceNumber + s.seqOffset) & 0xffff;
  const ts = (h.timestamp + s.timestampOffset) % 0x100000000;
  s.sequenceNumber = seq;
  s.timestamp = ts;

  let exts: Extension[] = st.fixed;
  if (st.absSendTimeId || extensions.length > 0) {
    exts = st.fixed.slice();
    // The shared clock bytes, not a copy: writeHeader copies them into this packet's header at once.
    if (st.absSendTimeId) exts.push({ id: st.absSendTimeId, payload: absSendTime });
    for (let i = 0; i < extensions.length; i++) {
      const e = extensions[i]!;
      let same = -1;
      for (let j = 0; j < exts.length; j++) if (exts[j]!.id === e.id) { same = j; break; }
      if (same >= 0) exts[same] = e; else exts.push(e);
    }
    let sorted = true;
    for (let i = 1; i < exts.length && sorted; i++) sorted = exts[i - 1]!.id < exts[i]!.id;
    if (!sorted) exts.sort((a, b) => a.id - b.id);
  }
  const hdr = writeHeader({ marker: h.marker, payloadType, sequenceNumber: seq, timestamp: ts, ssrc: s.ssrc, csrc: h.csrc, extensions: exts });

  let srtp = st.srtp;
  if (!srtp || srtp.ctx !== ctx || srtp.ssrc !== s.ssrc) srtp = st.srtp = { ctx, ssrc: s.ssrc, state: ctx.getSrtpSsrcState(s.ssrc) };
  const state = srtp.state;
  ctx.updateRolloverCount(seq, state);
  const sent = sendSrtp(k, hdr, src.payload, s.ssrc, seq, state.rolloverCounter, transport.socket, pair);

  s.ntpTimestamp = ntpNow;
  s.rtpTimestamp = ts;
  s.octetCount += src.payload.length;
  s.headerBytesSent += hdr.length;
  s.packetCount = (s.packetCount + 1) >>> 0;
  s.rtpCache[seq % HISTORY] = new SentRtp(hdr, src.payload);
  if (!s.rtcpRunning) s.runRtcp();
  dtls.bytesSent += sent;
  dtls.packetsSent++;
  pair.packetsSent++;
  pair.bytesSent += sent;
  return true;
}

/** Forwarded packets sent per path, since the process (or worker) started: benchmarks and tests read them. */
export const sendPaths = { native: 0, javascript: 0 };

/**
 * Protects and sends one packet to the pair's remote; returns the SRTP packet's length. The native
 * addon sends at once with sendto(); when the socket's buffer is full (EAGAIN) or the send fails, the
 * same bytes go through dgram, which queues them or reports the error as for werift's own packets.
 */
function sendSrtp(k: SrtpKeys, hdr: Buffer, payload: Buffer, ssrc: number, seq: number, roc: number, socket: dgram.Socket, pair: PairLike): number {
  const n = nativeSend();
  const [host, port] = pair.remoteAddr;
  if (n && k.raw) {
    const dest = destinationOf(n, pair, socket);
    const fd = dest.fd;
    const to = dest.to;
    if (to) {
      const c = k.native === undefined ? nativeContext(n, k) : k.native;
      if (c) {
        const sent = n.send(fd, c, hdr, payload, ssrc, seq, roc, to);
        sendPaths.native++;
        if (sent >= 0) return sent;
        const out = n.protect(c, hdr, payload, ssrc, seq, roc);
        socket.send(out, port, host);
        return out.length;
      }
    }
  }
  sendPaths.javascript++;
  const out = protectRtp(k, hdr, payload, ssrc, seq, roc);
  socket.send(out, port, host);
  return out.length;
}

/** The addon's keyed context for `k`, made once; keys it refuses stay on the JavaScript path (same bytes). */
function nativeContext(n: NativeSend, k: SrtpKeys): NativeContext | null {
  try {
    k.native = n.context(k.gcm, k.raw!, k.salt, k.auth ?? undefined);
  } catch {
    k.native = null;
  }
  return k.native;
}

/**
 * The pair's socket descriptor and remote as a sockaddr for it (`to` undefined: dgram sends), made
 * once per pair and open socket handle: a closed socket has no handle, so its old number is not used.
 */
interface Destination { handle: object | null; fd: number; to: Buffer | undefined }
const destinations = new WeakMap<object, Destination>();
const CLOSED: Destination = { handle: null, fd: -1, to: undefined };
function destinationOf(n: NativeSend, pair: PairLike, socket: dgram.Socket): Destination {
  const handle = socketHandle(socket);
  if (!handle) return CLOSED;
  let d = destinations.get(pair);
  if (!d || d.handle !== handle) {
    const fd = socketFd(socket);
    d = { handle, fd, to: fd >= 0 ? n.sockaddr(fd, pair.remoteAddr[0], pair.remoteAddr[1]) : undefined };
    destinations.set(pair, d);
  }
  return d;
}

/** Whether the pair's remote is an IP address (werift resolves names with a callback per packet). */
const direct = new WeakMap<object, boolean>();
function directAddress(pair: PairLike): boolean {
  let d = direct.get(pair);
  if (d === undefined) { d = net.isIP(pair.remoteAddr?.[0] ?? '') !== 0; direct.set(pair, d); }
  return d;
}

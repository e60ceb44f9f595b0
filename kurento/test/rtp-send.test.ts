// The engine's own send path for forwarded RTP (kurento/src/media/rtp-send.ts): its bytes are what
// werift's ciphers and header writer produce, and what werift keeps per sent packet still works
// (NACKs answered from its history, through a real werift viewer that loses packets).
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { RtpHeader, type RtpPacket } from 'werift';
import { createMediaPeer, type MediaPeer } from '../src/media';
import { protectRtp, sendPaths, writeHeader, type SrtpKeys } from '../src/media/rtp-send';
import { nativeSend, nativeState, setNativeSend, socketFd, type NativeSend } from '../src/media/native';
import { weriftModule } from '../src/media/werift-internal';
import { waitFor } from '../../test-support/ports';
import { PeerHost, presentInto, weriftViewer } from './media-support';

jest.setTimeout(60000);

type Cipher = { encryptRtp(h: RtpHeader, p: Buffer, roc: number): Buffer };
const gcmModule = weriftModule<{ CipherAesGcm: new (...a: Buffer[]) => Cipher }>('rtp/src/srtp/cipher/gcm.js')!;
const ctrModule = weriftModule<{ CipherAesCtr: new (...a: Buffer[]) => Cipher }>('rtp/src/srtp/cipher/ctr.js')!;

function header(seq: number, extensions: { id: number; payload: Buffer }[], csrc: number[] = []): RtpHeader {
  return new RtpHeader({ marker: seq % 2 === 0, payloadType: 96, sequenceNumber: seq, timestamp: (0xfffffff0 + seq) >>> 0, ssrc: 0x8badf00d, csrc, csrcLength: csrc.length, extensions });
}
const exts = [{ id: 1, payload: Buffer.from('0') }, { id: 2, payload: Buffer.from([1, 2, 3]) }, { id: 4, payload: Buffer.from([0x81]) }];

/** Random SRTP session keys and werift's own GCM and CM ciphers on them: the reference bytes. */
function weriftCiphers() {
  const key = crypto.randomBytes(16);
  const gcmSalt = crypto.randomBytes(12);
  const cmSalt = crypto.randomBytes(14);
  const auth = crypto.randomBytes(20);
  return {
    key, gcmSalt, cmSalt, auth,
    gcm: new gcmModule.CipherAesGcm(key, gcmSalt, key, gcmSalt),
    ctr: new ctrModule.CipherAesCtr(key, cmSalt, key, cmSalt, auth, auth),
  };
}

describe('bytes', () => {
  test('the header is what werift writes (no extensions, one-byte extensions, CSRCs)', () => {
    for (const [e, csrc] of [[[], []], [exts, []], [exts.slice(1), [7, 8]]] as const) {
      const h = header(513, [...e], [...csrc]);
      const ours = writeHeader({ marker: h.marker, payloadType: 96, sequenceNumber: 513, timestamp: h.timestamp, ssrc: h.ssrc, csrc: [...csrc], extensions: e });
      expect(ours.equals(h.serialize(h.serializeSize))).toBe(true);
      expect(RtpHeader.deSerialize(ours).extensions.map((x) => x.id)).toEqual(e.map((x) => x.id));
    }
  });

  test('two-byte extension elements when an id is past 14 or a value past 16 bytes (RFC 8285)', () => {
    const big = [{ id: 3, payload: Buffer.alloc(20, 7) }, { id: 15, payload: Buffer.from([9]) }];
    const parsed = RtpHeader.deSerialize(writeHeader({ marker: false, payloadType: 100, sequenceNumber: 1, timestamp: 2, ssrc: 3, csrc: [], extensions: big }));
    expect(parsed.extensionProfile).toBe(0x1000);
    expect(parsed.extensions).toEqual(big);
  });

  test('SRTP: AES-GCM and AES-CM/HMAC-SHA1-80 packets are byte for byte werift\'s, rollover counter included', () => {
    const { key, gcmSalt, cmSalt, auth, gcm, ctr } = weriftCiphers();
    const gcmKeys: SrtpKeys = { gcm: true, key: crypto.createSecretKey(key), salt: gcmSalt, auth: null, tagLength: 16 };
    const cmKeys: SrtpKeys = { gcm: false, key: crypto.createSecretKey(key), salt: cmSalt, auth, tagLength: 10 };
    for (const [seq, roc, size] of [[0, 0, 1], [65535, 3, 1100], [4097, 70000, 333]]) {
      const h = header(seq, [...exts]);
      const payload = crypto.randomBytes(size);
      const hdr = h.serialize(h.serializeSize);
      expect(protectRtp(gcmKeys, hdr, payload, h.ssrc, seq, roc).equals(gcm.encryptRtp(h, payload, roc))).toBe(true);
      expect(protectRtp(cmKeys, hdr, payload, h.ssrc, seq, roc).equals(ctr.encryptRtp(h, payload, roc))).toBe(true);
    }
  });
});

describe('the native addon (kurento/native)', () => {
  let n: NativeSend;
  beforeAll(() => {
    // Built by scripts/setup.js (node-gyp): without it the engine is slower, and this suite must say so.
    expect(nativeState()).toEqual({ loaded: true });
    n = nativeSend()!;
  });

  test('SRTP packets byte for byte werift\'s (GCM and CM/HMAC-SHA1-80), one keyed context reused across packets', () => {
    const { key, gcmSalt, cmSalt, auth, gcm, ctr } = weriftCiphers();
    const nGcm = n.context(true, key, gcmSalt);
    const nCm = n.context(false, key, cmSalt, auth);
    for (const [seq, roc, size] of [[0, 0, 1], [65535, 3, 1100], [4097, 70000, 333], [4098, 70000, 1400], [1, 0, 0]]) {
      const h = header(seq, [...exts]);
      const payload = crypto.randomBytes(size);
      const hdr = h.serialize(h.serializeSize);
      expect(n.protect(nGcm, hdr, payload, h.ssrc, seq, roc).equals(gcm.encryptRtp(h, payload, roc))).toBe(true);
      expect(n.protect(nCm, hdr, payload, h.ssrc, seq, roc).equals(ctr.encryptRtp(h, payload, roc))).toBe(true);
    }
    // werift derives a GCM session salt of 14 bytes, as for CM, and uses its first 12 (RFC 7714's length).
    const h = header(9, []);
    const hdr = h.serialize(h.serializeSize);
    const long = n.context(true, key, Buffer.concat([gcmSalt, Buffer.from([1, 2])]));
    expect(n.protect(long, hdr, hdr, h.ssrc, 9, 0).equals(gcm.encryptRtp(h, hdr, 0))).toBe(true);
  });

  test('send() puts the protected packet on the socket, IPv4 and IPv6 (an IPv4 remote on an IPv6 socket mapped)', async () => {
    const ctx = n.context(true, crypto.randomBytes(16), crypto.randomBytes(12));
    const hdr = writeHeader({ marker: true, payloadType: 96, sequenceNumber: 7, timestamp: 9, ssrc: 11, csrc: [], extensions: [] });
    const payload = crypto.randomBytes(1200);
    const expected = n.protect(ctx, hdr, payload, 11, 7, 0);
    for (const [type, rxAddr, txAddr, to] of [['udp4', '127.0.0.1', '127.0.0.1', '127.0.0.1'], ['udp6', '::1', '::1', '::1'], ['udp6', '::', '::', '127.0.0.1']] as const) {
      const rx = dgram.createSocket(type);
      const tx = dgram.createSocket(type);
      rx.bind(0, rxAddr); tx.bind(0, txAddr);
      await Promise.all([once(rx, 'listening'), once(tx, 'listening')]);
      const fd = socketFd(tx);
      expect(fd).toBeGreaterThan(2);
      const addr = n.sockaddr(fd, to, rx.address().port)!;
      expect(addr).toBeInstanceOf(Buffer);
      const got = once(rx, 'message');
      expect(n.send(fd, ctx, hdr, payload, 11, 7, 0, addr)).toBe(expected.length);
      const [msg] = (await got) as [Buffer];
      expect(msg.equals(expected)).toBe(true);
      tx.close(); rx.close();
      await once(tx, 'close');
      expect(socketFd(tx)).toBe(-1); // a closed socket's number is never written to
    }
  });

  test('bad arguments: TypeError / RangeError with a code, addresses it leaves to dgram, a closed descriptor', () => {
    const ctx = n.context(false, Buffer.alloc(16), Buffer.alloc(14), Buffer.alloc(20));
    const hdr = Buffer.alloc(12, 0x80);
    expect(() => n.context(true, Buffer.alloc(15), Buffer.alloc(12))).toThrow(expect.objectContaining({ code: 'ERR_SRTP_KEYS' }));
    expect(() => n.context(false, Buffer.alloc(16), Buffer.alloc(14))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => n.protect({} as never, hdr, hdr, 1, 1, 0)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => n.protect(ctx, 'x' as never, hdr, 1, 1, 0)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: 'header must be a Buffer' }));
    expect(() => n.protect(ctx, Buffer.alloc(4), hdr, 1, 1, 0)).toThrow(expect.objectContaining({ code: 'ERR_SRTP_PACKET' }));
    const big = n.protect(ctx, hdr, Buffer.alloc(9000), 1, 1, 0); // above the stack buffer: still right
    expect(big.length).toBe(12 + 9000 + 10);
    const sock = dgram.createSocket('udp4');
    return new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => {
      const fd = socketFd(sock);
      expect(n.sockaddr(fd, 'fe80::1%lo', 5000)).toBeUndefined();
      expect(n.sockaddr(fd, 'example.org', 5000)).toBeUndefined();
      expect(n.sockaddr(fd, '::1', 5000)).toBeUndefined(); // IPv6 remote on an IPv4 socket
      expect(n.sockaddr(fd, '127.0.0.1', 70000)).toBeUndefined();
      const to = n.sockaddr(fd, '127.0.0.1', 9)!;
      sock.close(() => {
        expect(n.sockaddr(fd, '127.0.0.1', 9)).toBeUndefined();
        expect(n.send(fd, ctx, hdr, hdr, 1, 1, 0, to)).toBeLessThan(0); // -EBADF: nothing written
        resolve();
      });
    }));
  });
});

describe('through an engine sink', () => {
  const opts = { bindAddress: '127.0.0.1' };
  let host: PeerHost;
  let source: MediaPeer;
  const closers: (() => unknown)[] = [];
  beforeAll(async () => {
    host = new PeerHost();
    source = createMediaPeer(opts);
    closers.push(() => source.close());
    await presentInto(host, source);
  });
  afterAll(async () => {
    for (const c of closers.reverse()) await c();
    host?.stop();
  });

  test('the JavaScript send path (no addon) feeds a viewer too', async () => {
    setNativeSend(false);
    const before = { ...sendPaths };
    try {
      const sink = createMediaPeer(opts);
      closers.push(() => sink.close());
      source.connect(sink, ['video']);
      let packets = 0;
      const pc = await weriftViewer(sink, ['video'], {}, (p) => {
        p.onTrack.subscribe((track) => { track.onReceiveRtp.subscribe(() => { packets++; }); });
      });
      closers.push(() => pc.close());
      await waitFor(() => packets > 100, 30000, 'video packets at the viewer through the JavaScript path');
      expect(sendPaths.javascript - before.javascript).toBeGreaterThan(100);
      expect(sendPaths.native).toBe(before.native);
    } finally {
      setNativeSend(true);
    }
    expect(nativeSend()).not.toBeNull();
  });

  test('a viewer that loses packets gets them again: NACKs are answered from the sent history', async () => {
    const before = { ...sendPaths };
    const sink = createMediaPeer(opts);
    closers.push(() => sink.close());
    source.connect(sink, ['video']);
    const seqs = new Set<number>();
    // werift's debug switch drops an inbound packet when (value / 100) < Math.random(): 90 drops ~10 %.
    const pc = await weriftViewer(sink, ['video'], { debug: { inboundPacketLoss: 90 } }, (p) => {
      p.onTrack.subscribe((track) => { track.onReceiveRtp.subscribe((rtp: RtpPacket) => seqs.add(rtp.header.sequenceNumber)); });
    });
    closers.push(() => pc.close());
    await waitFor(() => seqs.size > 300, 30000, 'video packets at the viewer');
    await waitFor(async () => ((await sink.rtpStats()).find((x) => x.direction === 'outbound' && x.kind === 'video')?.nackCount ?? 0) > 20, 30000, 'NACKs answered by the sink');
    const out = (await sink.rtpStats()).find((x) => x.direction === 'outbound' && x.kind === 'video')!;
    expect(out.packets).toBeGreaterThan(300); // werift's own counters (the RTCP sender report's) kept
    expect(sendPaths.native - before.native).toBeGreaterThan(300); // through the addon
    // Every sequence number in the middle of what was sent arrived, though ~10 % were dropped on arrival.
    const first = [...seqs][0]!;
    const rel = [...seqs].map((x) => (x - first) & 0xffff).filter((x) => x < 0x8000).sort((a, b) => a - b);
    const lo = rel[10]!; const hi = rel[rel.length - 30]!;
    const have = new Set(rel);
    let missing = 0;
    for (let x = lo; x <= hi; x++) if (!have.has(x)) missing++;
    expect(hi - lo).toBeGreaterThan(200);
    expect(missing / (hi - lo)).toBeLessThan(0.03);
  });
});

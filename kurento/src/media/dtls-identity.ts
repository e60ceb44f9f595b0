// Each endpoint its own DTLS certificate. werift signs every peer in the process with one shared
// certificate; then every endpoint's answer carries the same a=fingerprint. A browser that restarts
// ICE on its old connection and gets its answer from a NEW endpoint (the service gives a presenter
// back after a network drop a new endpoint: PROTOCOL.md, renegotiation) starts a new DTLS
// association only when the fingerprint changed (RFC 8842 §5); with the same one it keeps its old
// SRTP keys, and the new endpoint can decrypt nothing: ICE connected, media lost.
//
// The certificate is made here with node:crypto (OpenSSL: a P-256 key and one ECDSA signature) and a
// few lines of DER, not with werift's createSelfSignedCertificateWithKey (WebCrypto and @peculiar/x509
// in JavaScript): 0.2-0.3 ms of CPU instead of 5-9 ms. That was the cost of every join, and in a join
// storm (issue 13: 200 viewers at once) the supply of spare certificates ran dry at once and its refill
// took one to two seconds of the machine's CPU from the handshakes themselves. Made synchronously,
// every peer gets its own, however many join at once.
import crypto from 'node:crypto';
import { HashAlgorithm, SignatureAlgorithm, type DtlsKeys } from 'werift';

// ---- DER (X.690), just what a self-signed certificate needs --------------------------------------
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
const seq = (...c: Buffer[]): Buffer => tlv(0x30, ...c);
const set = (...c: Buffer[]): Buffer => tlv(0x31, ...c);
const OID_ECDSA_SHA256 = Buffer.from('06082a8648ce3d040302', 'hex'); // 1.2.840.10045.4.3.2
const OID_COMMON_NAME = Buffer.from('0603550403', 'hex'); // 2.5.4.3

/** UTCTime (RFC 5280 §4.1.2.5.1: YYMMDDHHMMSSZ, years 1950-2049). */
function utcTime(d: Date): Buffer {
  const two = (n: number): string => String(n).padStart(2, '0');
  const s = `${two(d.getUTCFullYear() % 100)}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(s, 'ascii'));
}

const DAY_MS = 86_400_000;
/** libwebrtc names its own certificates so; nothing checks the name (the fingerprint in the SDP is what is trusted). */
const NAME = seq(set(seq(OID_COMMON_NAME, tlv(0x0c, Buffer.from('WebRTC')))));

/**
 * A new self-signed ECDSA P-256 / SHA-256 certificate and its key, as werift takes them. Valid from a
 * day ago (clocks differ) for 30 days: an endpoint lives as long as a show.
 */
export function newDtlsKeys(now = Date.now()): DtlsKeys {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const serial = crypto.randomBytes(8);
  serial[0]! &= 0x7f; // a positive INTEGER
  serial[0]! |= 0x01; // and no leading zero byte to strip
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))), // version v3
    tlv(0x02, serial),
    seq(OID_ECDSA_SHA256),
    NAME,
    seq(utcTime(new Date(now - DAY_MS)), utcTime(new Date(now + 30 * DAY_MS))),
    NAME,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = crypto.sign('sha256', tbs, privateKey); // DER ECDSA-Sig-Value, as X.509 wants it
  const cert = seq(tbs, seq(OID_ECDSA_SHA256), tlv(0x03, Buffer.from([0]), signature));
  const b64 = cert.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return {
    certPem: `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    signatureHash: { signature: SignatureAlgorithm.ecdsa_3, hash: HashAlgorithm.sha256_4 },
  };
}

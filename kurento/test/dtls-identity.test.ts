// Each endpoint's own DTLS certificate, made with node:crypto (kurento/src/media/dtls-identity.ts):
// a well-formed self-signed X.509 that OpenSSL verifies and werift's x509 parser reads to the same
// fingerprint, a new one every time. The handshakes with it run in every media test (engine ↔
// Chromium, libwebrtc and werift peers); here one werift pair completes a DTLS handshake on it.
import crypto from 'node:crypto';
import { DtlsClient, DtlsServer, RTCCertificate } from 'werift';
import { newDtlsKeys } from '../src/media/dtls-identity';
import { waitFor } from '../../test-support/ports';

test('a self-signed ECDSA P-256 / SHA-256 certificate that OpenSSL verifies, valid now, with its own key', () => {
  const now = Date.parse('2026-12-07T12:00:00Z');
  const keys = newDtlsKeys(now);
  const cert = new crypto.X509Certificate(keys.certPem);
  expect(cert.verify(cert.publicKey)).toBe(true); // self-signed: its own key signs it
  expect(cert.checkIssued(cert)).toBe(true);
  expect(cert.subject).toBe('CN=WebRTC');
  expect(cert.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
  expect(Date.parse(cert.validFrom)).toBeLessThan(now);
  expect(Date.parse(cert.validTo)).toBeGreaterThan(now + 29 * 86_400_000);
  // The key is the certificate's: what the key signs, the certificate's public key verifies.
  const key = crypto.createPrivateKey(keys.keyPem);
  const sig = crypto.sign('sha256', Buffer.from('hello'), key);
  expect(crypto.verify('sha256', Buffer.from('hello'), cert.publicKey, sig)).toBe(true);
  expect(BigInt(`0x${cert.serialNumber}`)).toBeGreaterThan(0n);
});

test('werift reads it to the fingerprint OpenSSL computes, and every call makes a new one', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const keys = newDtlsKeys();
    const openssl = new crypto.X509Certificate(keys.certPem).fingerprint256.toLowerCase();
    const werift = new RTCCertificate(keys.keyPem, keys.certPem, keys.signatureHash).getFingerprints()[0]!;
    expect(werift.algorithm).toBe('sha-256');
    expect(werift.value.toLowerCase()).toBe(openssl);
    seen.add(openssl);
  }
  expect(seen.size).toBe(50);
});

/** Two in-memory datagram ends, as kurento/test/media-dtls.test.ts links werift's DTLS client and server. */
function link() {
  /* eslint-disable @typescript-eslint/no-explicit-any */
  const end = () => ({ type: 'memory', address: {} as any, closed: false, onData: (_d: Buffer, _a?: any) => undefined as void, send: async (_d: Buffer) => undefined, close: async () => undefined });
  const a = end();
  const b = end();
  a.send = async (d: Buffer) => { setImmediate(() => b.onData(d, {} as any)); };
  b.send = async (d: Buffer) => { setImmediate(() => a.onData(d, {} as any)); };
  return { clientSide: a as any, serverSide: b as any };
  /* eslint-enable @typescript-eslint/no-explicit-any */
}

test('werift\'s DTLS client and server complete a handshake on two such certificates, each side holding the other\'s', async () => {
  const { clientSide, serverSide } = link();
  const [c, s] = [newDtlsKeys(), newDtlsKeys()];
  const server = new DtlsServer({ cert: s.certPem, key: s.keyPem, signatureHash: s.signatureHash, transport: serverSide, certificateRequest: true, extendedMasterSecret: true });
  const client = new DtlsClient({ cert: c.certPem, key: c.keyPem, signatureHash: c.signatureHash, transport: clientSide, extendedMasterSecret: true });
  const errors: unknown[] = [];
  let up = 0;
  client.onError.subscribe((e: unknown) => { errors.push(e); });
  server.onError.subscribe((e: unknown) => { errors.push(e); });
  client.onConnect.once(() => { up++; });
  server.onConnect.once(() => { up++; });
  await client.connect();
  await waitFor(() => up === 2 || errors.length > 0, 10000, 'handshake done or failed');
  expect(errors).toEqual([]);
  // Each side holds the other's certificate: the one whose fingerprint the SDP would carry.
  expect(Buffer.from(server.remoteCertificate!).equals(new crypto.X509Certificate(c.certPem).raw)).toBe(true);
  expect(Buffer.from(client.remoteCertificate!).equals(new crypto.X509Certificate(s.certPem).raw)).toBe(true);
});

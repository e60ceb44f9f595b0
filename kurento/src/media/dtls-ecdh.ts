// werift's DTLS does its ECDHE key exchange in JavaScript: X25519 with tweetnacl and P-256 with
// @noble/curves, about 1.5 and 5 ms of one core per handshake on this machine's cores (measured
// against node:crypto's 0.1-0.2 ms). Every viewer's join runs one, all on the engine's event loop, so
// a join storm (200 viewers at once on a shared link) queued seconds of key exchange behind each other
// (issue 13). This swaps werift's two ECDHE functions for node:crypto (OpenSSL), byte for byte the same
// keys and shared secrets (kurento/test/dtls-ecdh.test.ts checks both against werift's own).
import crypto from 'node:crypto';
import { weriftModule } from './werift-internal';

/** werift's NamedCurveAlgorithm values (IANA TLS supported groups). */
const X25519 = 29;
const SECP256R1 = 23;

// DER framings of a raw X25519 key (RFC 8410): what node:crypto imports and exports.
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex');
const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');

interface KeyPair { curve: number; privateKey: Buffer; publicKey: Buffer }

export function nativeKeyPair(curve: number): KeyPair | null {
  if (curve === SECP256R1) {
    const ecdh = crypto.createECDH('prime256v1');
    const publicKey = ecdh.generateKeys(); // uncompressed, 65 bytes, as werift sends it
    return { curve, privateKey: ecdh.getPrivateKey(), publicKey };
  }
  if (curve === X25519) {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('x25519', { publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } });
    return { curve, privateKey: privateKey.subarray(-32), publicKey: publicKey.subarray(-32) };
  }
  return null;
}

/** The ECDHE pre-master secret: P-256's shared x coordinate, X25519's shared value; null for other curves. */
export function nativePreMasterSecret(publicKey: Buffer, privateKey: Buffer, curve: number): Buffer | null {
  if (curve === SECP256R1) {
    const ecdh = crypto.createECDH('prime256v1');
    ecdh.setPrivateKey(privateKey);
    return ecdh.computeSecret(publicKey);
  }
  if (curve === X25519) {
    return crypto.diffieHellman({
      privateKey: crypto.createPrivateKey({ key: Buffer.concat([X25519_PKCS8, privateKey]), format: 'der', type: 'pkcs8' }),
      publicKey: crypto.createPublicKey({ key: Buffer.concat([X25519_SPKI, publicKey]), format: 'der', type: 'spki' }),
    });
  }
  return null;
}

let installed = false;

/** Makes every werift DTLS handshake in this process use nativeKeyPair and nativePreMasterSecret. */
export function installNativeEcdh(): void {
  if (installed) return;
  installed = true;
  const curves = weriftModule<{ generateKeyPair?: (c: number) => KeyPair }>('dtls/src/cipher/namedCurve.js');
  const prf = weriftModule<{ prfPreMasterSecret?: (pub: Buffer, priv: Buffer, c: number) => Buffer }>('dtls/src/cipher/prf.js');
  if (!curves || !prf) return; // werift's layout changed: its own JavaScript keeps working
  const jsKeyPair = curves.generateKeyPair;
  const jsSecret = prf.prfPreMasterSecret;
  if (typeof jsKeyPair !== 'function' || typeof jsSecret !== 'function') return;
  curves.generateKeyPair = (c) => nativeKeyPair(c) ?? jsKeyPair(c);
  prf.prfPreMasterSecret = (pub, priv, c) => nativePreMasterSecret(pub, priv, c) ?? jsSecret(pub, priv, c);
}

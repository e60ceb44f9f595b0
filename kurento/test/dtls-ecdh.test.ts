// The engine's DTLS key exchange through node:crypto (kurento/src/media/dtls-ecdh.ts) must be
// werift's own, byte for byte: keys in the same encodings, the same pre-master secret on both sides
// whichever side is native, on both curves werift offers. The handshakes themselves run in every
// media test (engine ↔ Chromium, libwebrtc and werift peers).
import { installNativeEcdh } from '../src';
import { nativeKeyPair, nativePreMasterSecret } from '../src/media/dtls-ecdh';
import { weriftModule } from '../src/media/werift-internal';

interface KeyPair { curve: number; privateKey: Buffer; publicKey: Buffer }
const curves = weriftModule<{ generateKeyPair(c: number): KeyPair }>('dtls/src/cipher/namedCurve.js')!;
const prf = weriftModule<{ prfPreMasterSecret(pub: Buffer, priv: Buffer, c: number): Buffer }>('dtls/src/cipher/prf.js')!;
// werift's JavaScript, taken before the engine replaces it.
const jsKeyPair = curves.generateKeyPair;
const jsSecret = prf.prfPreMasterSecret;

describe.each([['X25519', 29, 32], ['P-256', 23, 65]])('%s', (_name, curve, publicLength) => {
  test('native keys have werift\'s encodings', () => {
    const js = jsKeyPair(curve);
    const native = nativeKeyPair(curve)!;
    expect(native.curve).toBe(curve);
    expect(native.publicKey.length).toBe(js.publicKey.length);
    expect(native.publicKey.length).toBe(publicLength);
    expect(native.privateKey.length).toBe(js.privateKey.length);
    if (curve === 23) expect(native.publicKey[0]).toBe(4); // uncompressed point, as werift sends it
  });

  test('a native side and a JavaScript side agree on the pre-master secret, 20 times over', () => {
    for (let i = 0; i < 20; i++) {
      const native = nativeKeyPair(curve)!;
      const js = jsKeyPair(curve);
      const ours = nativePreMasterSecret(js.publicKey, native.privateKey, curve)!;
      const theirs = jsSecret(native.publicKey, js.privateKey, curve);
      expect(ours.length).toBe(32);
      expect(ours.equals(theirs)).toBe(true);
      // Two native sides, and a native secret from a JavaScript key pair, agree too.
      const other = nativeKeyPair(curve)!;
      expect(nativePreMasterSecret(other.publicKey, native.privateKey, curve)!.equals(nativePreMasterSecret(native.publicKey, other.privateKey, curve)!)).toBe(true);
      expect(nativePreMasterSecret(native.publicKey, js.privateKey, curve)!.equals(theirs)).toBe(true);
    }
  });
});

test('an unknown curve is left to werift; installing replaces what werift\'s flights call', () => {
  expect(nativeKeyPair(24)).toBeNull();
  expect(nativePreMasterSecret(Buffer.alloc(65), Buffer.alloc(32), 24)).toBeNull();
  installNativeEcdh();
  expect(curves.generateKeyPair).not.toBe(jsKeyPair);
  expect(prf.prfPreMasterSecret).not.toBe(jsSecret);
  const a = curves.generateKeyPair(29);
  const b = jsKeyPair(29);
  expect(prf.prfPreMasterSecret(b.publicKey, a.privateKey, 29).equals(jsSecret(a.publicKey, b.privateKey, 29))).toBe(true);
  // werift's own error for a curve it does not know is kept.
  expect(() => curves.generateKeyPair(24)).toThrow();
});

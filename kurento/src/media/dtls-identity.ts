// Each endpoint its own DTLS certificate. werift signs every peer in the process with one shared
// certificate; then every endpoint's answer carries the same a=fingerprint. A browser that restarts
// ICE on its old connection and gets its answer from a NEW endpoint (the service gives a presenter
// back after a network drop a new endpoint: PROTOCOL.md, renegotiation) starts a new DTLS
// association only when the fingerprint changed (RFC 8842 §5); with the same one it keeps its old
// SRTP keys, and the new endpoint can decrypt nothing: ICE connected, media lost.
//
// Making a certificate is asynchronous (about 5 ms, ECDSA P-256) and a peer is made synchronously,
// so a few are kept ready. Should a burst of endpoints take them all, the next peers fall back to
// werift's shared certificate (they still connect; only such a restart towards them would not).
import { CipherContext, HashAlgorithm, NamedCurveAlgorithm, SignatureAlgorithm, type DtlsKeys } from 'werift';

const SPARES = 8;
const ready: DtlsKeys[] = [];
let making: Promise<void> | null = null;

/** Starts filling the supply (the engine calls it when it starts, so the first peer gets its own). */
export function prepareDtlsKeys(): Promise<void> {
  making ??= (async () => {
    try {
      while (ready.length < SPARES) {
        ready.push(await CipherContext.createSelfSignedCertificateWithKey(
          { signature: SignatureAlgorithm.ecdsa_3, hash: HashAlgorithm.sha256_4 }, NamedCurveAlgorithm.secp256r1_23,
        ));
      }
    } catch { /* werift's shared certificate is used meanwhile */ } finally { making = null; }
  })();
  return making;
}

/** A certificate no other peer has, or undefined (werift's shared one) when none is ready yet. */
export function takeDtlsKeys(): DtlsKeys | undefined {
  const keys = ready.shift();
  void prepareDtlsKeys();
  return keys;
}

// werift's DTLS client given a duplicate HelloVerifyRequest (what the remote sends when our ClientHello
// was retransmitted before its first answer was read: a busy event loop). Without the fix in
// src/media/dtls-retransmit.ts werift 0.24 throws in Flight3 and fails the transport, though the
// handshake completes on the wire (bench:join: viewers DTLS-connected that never got a packet).
/* eslint-disable @typescript-eslint/no-explicit-any */
import { DtlsClient, DtlsServer, RTCDtlsTransport } from 'werift';
import { installDtlsRetransmitFix } from '../src/media/dtls-retransmit';
import { waitFor } from '../../test-support/ports';

/** Two in-memory datagram ends; `dup(n)` says whether the n-th datagram (0-based) is delivered twice. */
function link(dup: (n: number) => boolean) {
  const end = () => ({ type: 'memory', address: {} as any, closed: false, onData: (_d: Buffer, _a?: any) => undefined as void, send: async (_d: Buffer) => undefined, close: async () => undefined });
  const a = end();
  const b = end();
  let toA = 0;
  a.send = async (d: Buffer) => { setImmediate(() => b.onData(d, {} as any)); };
  b.send = async (d: Buffer) => {
    const n = toA++;
    setImmediate(() => a.onData(d, {} as any));
    if (dup(n)) setImmediate(() => a.onData(d, {} as any)); // the same answer once more, before the next flight
  };
  return { clientSide: a, serverSide: b };
}

test('a duplicate HelloVerifyRequest does not fail the DTLS client, and the handshake completes', async () => {
  installDtlsRetransmitFix();
  const cert = await RTCDtlsTransport.SetupCertificate();
  const { clientSide, serverSide } = link((n) => n === 0); // the server's first datagram: HelloVerifyRequest
  const opts = { cert: cert.certPem, key: cert.privateKey, signatureHash: cert.signatureHash, extendedMasterSecret: true };
  const server = new DtlsServer({ ...opts, transport: serverSide as any, certificateRequest: true });
  const client = new DtlsClient({ ...opts, transport: clientSide as any });
  const errors: unknown[] = [];
  let clientUp = false;
  let serverUp = false;
  client.onError.subscribe((e: unknown) => { errors.push(e); });
  server.onError.subscribe((e: unknown) => { errors.push(e); });
  client.onConnect.once(() => { clientUp = true; });
  server.onConnect.once(() => { serverUp = true; });
  await client.connect();
  await waitFor(() => (clientUp && serverUp) || errors.length > 0, 10000, 'handshake done or failed');
  expect(errors).toEqual([]);
  expect(clientUp && serverUp).toBe(true);
});

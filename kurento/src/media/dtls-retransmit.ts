// werift 0.24's DTLS client fails its transport on a duplicate HelloVerifyRequest.
//
// The handshake as DTLS client (our answers say a=setup:active): flight 1 ClientHello → flight 2
// HelloVerifyRequest (cookie) → flight 3 ClientHello with the cookie → ... werift retransmits flight 1
// after 500 ms without an answer. When the event loop is busy (many joins at once, a loaded machine),
// the HelloVerifyRequest arrives after that: the ClientHello went out twice, the remote answered both
// (its cookie is the same for both), and the second HelloVerifyRequest reaches werift's Flight3.exec
// with flight already 3, which does `throw new Error()`. The socket turns that into onError, and
// RTCDtlsTransport sets state 'failed' and never starts SRTP — while the handshake itself goes on and
// completes on the wire: the remote peer reports DTLS connected, our side never sends a packet to it
// (every forwarded packet is dropped on `dtlsTransport.state !== 'connected'`). werift's own flights
// 4, 5 and 6 treat a duplicate as a retransmission; this makes flight 3 do the same: a
// HelloVerifyRequest that arrives once flight 3 (or later) is under way is ignored (flight 3 keeps
// retransmitting on its own timer until the server's flight 4 arrives).
import { weriftModule } from './werift-internal';

let installed = false;

interface Flight3Like { dtls: { flight?: number }; exec(verifyReq: unknown): Promise<void> }

export function installDtlsRetransmitFix(): void {
  if (installed) return;
  installed = true;
  // The module its DtlsClient uses.
  const mod = weriftModule<{ Flight3?: { prototype: Flight3Like } }>('dtls/src/flight/client/flight3.js');
  const proto = mod?.Flight3?.prototype;
  const original = proto?.exec;
  if (!proto || typeof original !== 'function') return;
  proto.exec = function (this: Flight3Like, verifyReq: unknown): Promise<void> {
    if ((this.dtls.flight ?? 0) >= 3) return Promise.resolve(); // duplicate HelloVerifyRequest
    return original.call(this, verifyReq);
  };
}

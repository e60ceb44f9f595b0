// The DTLS handshake starts as soon as ICE connects, not 100 ms later.
//
// As DTLS client (our answers say a=setup:active, as KMS's), werift 0.24's RTCDtlsTransport.start()
// makes its DtlsClient and then waits a fixed 100 ms before sending the ClientHello. Every viewer's
// join and every presenter's start paid it: on an idle machine ICE connected 27 ms after the offer
// and DTLS 140-155 ms after it, the handshake itself taking about 10 ms (issue 13: a single joiner's
// offer to first frame, goal < 150 ms at p50). KMS starts its handshake when ICE connects.
//
// The wait is there for a remote whose DTLS server is not listening yet. libwebrtc keeps a ClientHello
// that arrives before its DTLS is set up; a werift remote drops it (our ICE can report connected a few
// ms before the remote's does), and werift's flight timer would send it again only 500 ms later.
//
// So when the transport goes 'connecting' as client, the ClientHello goes out in the next microtask
// (start() has made the DtlsClient synchronously by then). werift's own connect() after its 100 ms
// gets the handshake already under way (and its outcome, failure included). When nothing has come back
// 20 and 50 ms after the first ClientHello, and at werift's call, the same ClientHello goes out again
// (a retransmission, RFC 6347 §4.2.4): no remote waits longer than it did before, and one a few ms
// late waits tens of ms, not 500.
import { RTCDtlsTransport } from 'werift';
import { weriftModule } from './werift-internal';

interface DtlsClientLike { connect(): Promise<void>; dtls: { flight?: number }; transport: { send(buf: Buffer): unknown } }
interface TransportLike { role: string; dtls?: DtlsClientLike; setState(state: string, emitEvent?: boolean): void }

/** When the ClientHello goes out again if nothing came back (werift's own connect() adds 100 ms). */
const EARLY_RETRIES_MS = [20, 50];
/**
 * Early retries only while few handshakes are under way: many at once (a join storm) means slow
 * answers from a loaded remote or engine, not a remote late to listen, and more hellos would only
 * add to the load. werift's flight 1 settles at its first retransmission check (500 ms).
 */
const STORM = 8;
let underWay = 0;
let installed = false;
/** Each client's one handshake, so that werift's own later connect() gets its outcome. */
const started = new WeakMap<object, Promise<void>>();
/** Each client's first datagram (its ClientHello), to send again if werift's own connect() finds no answer yet. */
const hello = new WeakMap<object, Buffer>();

export function installEarlyDtlsStart(): void {
  if (installed) return;
  installed = true;
  const mod = weriftModule<{ DtlsClient?: { prototype: DtlsClientLike } }>('dtls/src/client.js');
  const client = mod?.DtlsClient?.prototype;
  const connect = client?.connect;
  const transport = RTCDtlsTransport.prototype as unknown as TransportLike;
  const setState = transport.setState;
  if (!client || typeof connect !== 'function' || typeof setState !== 'function') return; // werift's layout changed: its own timing stays

  // One ClientHello flight per client, however many times connect() is called.
  /** The ClientHello again, if no answer has come yet (werift's flight is still 1). */
  const helloAgain = (c: DtlsClientLike): void => {
    const first = hello.get(c);
    if (first && c.dtls.flight === 1) void Promise.resolve(c.transport.send(first)).catch(() => undefined);
  };
  client.connect = function (this: DtlsClientLike): Promise<void> {
    let handshake = started.get(this);
    if (handshake) { helloAgain(this); return handshake; }
    const transport = this.transport;
    const send = transport.send;
    transport.send = (buf: Buffer) => { if (!hello.has(this)) hello.set(this, buf); transport.send = send; return send(buf); };
    started.set(this, (handshake = connect.call(this)));
    underWay++;
    const settled = () => { underWay--; };
    handshake.then(settled, settled);
    // A remote in another process often reports ICE connected some ms after we do (through the join
    // bench: 20-60 ms): two early retries cover that; werift's own call at 100 ms is the next.
    for (const ms of EARLY_RETRIES_MS) setTimeout(() => { if (underWay <= STORM) helloAgain(this); }, ms).unref();
    return handshake;
  };
  transport.setState = function (this: TransportLike, state: string, emitEvent?: boolean): void {
    setState.call(this, state, emitEvent);
    if (state !== 'connecting' || this.role !== 'client') return;
    queueMicrotask(() => {
      const dtls = this.dtls;
      // Only a client made by this start(): a server or a transport that failed meanwhile is left alone.
      if (dtls && Object.getPrototypeOf(dtls) === client && !started.has(dtls)) dtls.connect().catch(() => undefined);
    });
  };
}

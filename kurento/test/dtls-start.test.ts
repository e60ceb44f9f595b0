// The engine as DTLS client sends its ClientHello as soon as its transport starts (kurento/src/media/
// dtls-start.ts), not after werift's fixed 100 ms wait. Checked by order, not by time: the first
// connect() of each DtlsClient must come before the event loop's next macrotask after the transport
// went 'connecting' (werift's own call comes from a 100 ms timer, so it never does).
import { RTCDtlsTransport } from 'werift';
import { createMediaPeer, type MediaPeer } from '../src/media';
import { weriftModule } from '../src/media/werift-internal';
import { waitFor } from '../../test-support/ports';
import { PeerHost, presentInto, weriftViewer } from './media-support';

jest.setTimeout(60000);

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

test('the ClientHello leaves in the same turn of the event loop as the transport starts, once per handshake', async () => {
  // Spies over the engine's installed hooks (the engine installs them when its first peer is made).
  type Transport = { role: string; dtls?: object };
  const transport = RTCDtlsTransport.prototype as unknown as { setState(this: Transport, s: string, e?: boolean): void };
  const client = weriftModule<{ DtlsClient: { prototype: { connect(): Promise<void> } } }>('dtls/src/client.js')!.DtlsClient.prototype;
  const setState = transport.setState;
  const connect = client.connect;
  let sameTurn = false;
  const firstCall: boolean[] = [];
  const calls = new Map<object, number>();
  const started: Transport[] = []; // only handshakes that start from here on (the presenter's may still see werift's late call)
  transport.setState = function (s, e) {
    if (s === 'connecting' && this.role === 'client') { started.push(this); sameTurn = true; setImmediate(() => { sameTurn = false; }); }
    setState.call(this, s, e);
  };
  client.connect = function () {
    if (!started.some((t) => t.dtls === this)) return connect.call(this);
    const n = (calls.get(this) ?? 0) + 1;
    calls.set(this, n);
    if (n === 1) firstCall.push(sameTurn);
    return connect.call(this);
  };
  try {
    for (let i = 0; i < 3; i++) {
      const sink = createMediaPeer(opts);
      closers.push(() => sink.close());
      source.connect(sink, ['audio', 'video']);
      let rtp = 0;
      const pc = await weriftViewer(sink, ['audio', 'video'], {}, (p) => { p.onTrack.subscribe((t) => t.onReceiveRtp.subscribe(() => { rtp++; })); });
      closers.push(() => pc.close());
      await waitFor(() => rtp > 0, 20000, 'media at the viewer');
    }
    // werift's own connect() 100 ms later joins the handshake under way: each client counted twice, one flight.
    await waitFor(() => [...calls.values()].every((n) => n >= 2), 5000, "werift's own connect() calls");
  } finally {
    transport.setState = setState;
    client.connect = connect;
  }
  expect(firstCall).toEqual([true, true, true]);
});

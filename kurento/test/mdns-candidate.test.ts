// Issue 17 item 11: a `.local` (mDNS) ICE candidate made werift open a multicast-dns socket (UDP
// 5353, no error handler: a failed bind throws out of the process), and the lookup held the
// request for up to 10 s. The engine never resolves mDNS: such candidates, trickled or inside an
// SDP, are accepted and ignored, and no 5353 socket is opened.
/* eslint-disable @typescript-eslint/no-explicit-any */
import dgram from 'node:dgram';
import { startMediaServer, type MediaServer } from '../src';
import { RawRpc } from './raw-rpc-support';

jest.setTimeout(60000);

let server: MediaServer;
let c: RawRpc;
beforeAll(async () => {
  server = await startMediaServer({ port: 0, bindAddress: '127.0.0.1' });
  c = await RawRpc.open(server.url);
});
afterAll(async () => {
  await c?.close();
  await server?.close();
});

/** UDP sockets of this process (the engine runs in it) bound to the mDNS port. */
function mdnsSockets(): number {
  const handles: unknown[] = (process as any)._getActiveHandles();
  return handles.filter((h) => {
    if (!(h instanceof dgram.Socket)) return false;
    try { return h.address().port === 5353; } catch { return false; }
  }).length;
}

const MDNS_HOST = '0b7e5a8f-1234-4abc-9def-0123456789ab.local';
const candidateLine = `candidate:1 1 udp 2122260223 ${MDNS_HOST} 54321 typ host generation 0`;

async function negotiatedPair(): Promise<{ offerer: string; answerer: string; offer: string }> {
  const pipeline = (await c.call('create', { type: 'MediaPipeline', constructorParams: {}, properties: {} })).value;
  const ep = async () => (await c.call('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline }, properties: {} })).value;
  const offerer = await ep();
  const answerer = await ep();
  const offer = (await c.call('invoke', { object: offerer, operation: 'generateOffer', operationParams: {} })).value;
  const answer = (await c.call('invoke', { object: answerer, operation: 'processOffer', operationParams: { offer } })).value;
  await c.call('invoke', { object: offerer, operation: 'processAnswer', operationParams: { answer } });
  return { offerer, answerer, offer };
}

test('a trickled .local candidate is accepted at once and opens no mDNS socket', async () => {
  const { answerer } = await negotiatedPair();
  expect(mdnsSockets()).toBe(0);
  const r = await c.request('invoke', {
    object: answerer, operation: 'addIceCandidate',
    operationParams: { candidate: { __module__: 'kurento', __type__: 'IceCandidate', candidate: candidateLine, sdpMid: '0', sdpMLineIndex: 0 } },
  });
  expect(r.error).toBeUndefined();
  expect(mdnsSockets()).toBe(0);
  // The endpoint and the engine carry on.
  expect((await c.call('invoke', { object: answerer, operation: 'getMediaState', operationParams: {} })).value).toEqual(expect.any(String));
});

test('an offer carrying a .local candidate line is answered, and opens no mDNS socket', async () => {
  const { offer } = await negotiatedPair();
  const withMdns = offer.replace(/(a=mid:[^\r\n]+\r\n)/, `$1a=${candidateLine}\r\n`);
  expect(withMdns).toContain(MDNS_HOST);
  const pipeline = (await c.call('create', { type: 'MediaPipeline', constructorParams: {}, properties: {} })).value;
  const ep = (await c.call('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline }, properties: {} })).value;
  const answer = (await c.call('invoke', { object: ep, operation: 'processOffer', operationParams: { offer: withMdns } })).value;
  expect(answer).toMatch(/^v=0/);
  expect(mdnsSockets()).toBe(0);
});

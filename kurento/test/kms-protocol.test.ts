// The Kurento Protocol on the wire, checked against KMS's own source (ServerMethods.cpp,
// JsonRpcHandler.cpp, KurentoException.hpp, the generated marshalling code): message shapes,
// sessions, error objects for bad input, release cascade and event payloads.
/* eslint-disable @typescript-eslint/no-explicit-any */
import http from 'node:http';
import { startMediaServer, type MediaServer } from '../src';
import { waitFor } from '../../test-support/ports';
import { RawRpc } from './raw-rpc-support';

jest.setTimeout(60000);

let server: MediaServer;
const clients: RawRpc[] = [];

async function open(firstId = 1): Promise<RawRpc> {
  const c = await RawRpc.open(server.url, firstId);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  server = await startMediaServer({ port: 0, bindAddress: '127.0.0.1' });
});

afterAll(async () => {
  for (const c of clients) await c.close();
  await server.close();
});

afterEach(async () => {
  // Every test releases what it made; the engine must agree.
  await waitFor(() => server.stats.pipelines === 0, 5000, 'no pipelines left');
});

async function pipelineWithEndpoints(c: RawRpc, n: number): Promise<{ pipeline: string; endpoints: string[] }> {
  const pipeline = (await c.call('create', { type: 'MediaPipeline', constructorParams: {}, properties: {} })).value;
  const endpoints: string[] = [];
  for (let i = 0; i < n; i++) endpoints.push((await c.call('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline }, properties: {} })).value);
  return { pipeline, endpoints };
}

test('ping answers pong without a session; the first create opens one and every answer carries it', async () => {
  const c = await open();
  expect(await c.request('ping', { interval: 5000 })).toEqual({ jsonrpc: '2.0', id: 1, result: { value: 'pong' } });
  const created = await c.request('create', { type: 'MediaPipeline', constructorParams: {}, properties: {} });
  expect(created).toEqual({ jsonrpc: '2.0', id: 2, result: { value: expect.stringMatching(/^[0-9a-f-]{36}_kurento\.MediaPipeline$/), sessionId: expect.stringMatching(/^[0-9a-f-]{36}$/) } });
  const sessionId = created.result.sessionId;
  // Requests without a sessionId are taken as the socket's session (KMS injects it).
  const described = await c.call('describe', { object: created.result.value });
  expect(described).toEqual({ sessionId, type: 'MediaPipeline', qualifiedType: 'kurento.MediaPipeline', hierarchy: ['kurento.MediaObject'] });
  expect(await c.call('ping')).toEqual({ value: 'pong', sessionId });
  const ep = (await c.call('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: created.result.value } })).value;
  expect(await c.call('describe', { object: ep, sessionId })).toEqual({
    sessionId, type: 'WebRtcEndpoint', qualifiedType: 'kurento.WebRtcEndpoint',
    hierarchy: ['kurento.BaseRtpEndpoint', 'kurento.SdpEndpoint', 'kurento.SessionEndpoint', 'kurento.Endpoint', 'kurento.MediaElement', 'kurento.MediaObject'],
  });
  expect(await c.call('invoke', { object: ep, operation: 'setName', operationParams: { name: 'x' } })).toEqual({ sessionId });
  expect(await c.call('release', { object: created.result.value, sessionId })).toEqual({ sessionId });
});

test('malformed JSON, invalid requests and unknown methods get JSON-RPC errors and the socket stays usable', async () => {
  const c = await open();
  c.sendText('{"jsonrpc":"2.0","id":7,"method":');
  expect(await c.next((m) => m.error?.code === -32700)).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error.', data: { type: 'PARSE_ERROR' } } });
  c.sendText('not json at all');
  c.sendText(JSON.stringify({ id: 3, method: 'ping' }));
  expect(await c.next((m) => m.error?.code === -32600)).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid JSON-RPC request.', data: { type: 'INVALID_REQUEST' } } });
  c.sendText(JSON.stringify([1, 2, 3]));
  expect(await c.request('fly', {}, 42)).toEqual({ jsonrpc: '2.0', id: 42, error: { code: -32601, message: 'Method not found.', data: { type: 'METHOD_NOT_FOUND' } } });
  // Missing params / members, as KMS answers them.
  expect((await c.request('create')).error).toEqual({ code: -32602, message: "'params' is required", data: { type: 'INVALID_PARAMS' } });
  expect((await c.request('describe', {})).error).toMatchObject({ code: -32000, message: "'object' parameter is required" });
  // Two requests in one frame (kurento-client's websocket-stream does this) are two requests.
  c.sendText('{"jsonrpc":"2.0","id":100,"method":"ping"}{"jsonrpc":"2.0","id":101,"method":"ping"}');
  await c.next((m) => m.id === 100);
  await c.next((m) => m.id === 101);
  // A notification (no id) gets no answer; the socket still works after all of this.
  c.sendText(JSON.stringify({ jsonrpc: '2.0', method: 'ping' }));
  expect((await c.call('ping')).value).toBe('pong');
});

test('KMS error objects: unknown object, type, method and event; bad parameters; cross-pipeline connect', async () => {
  const c = await open();
  const { pipeline, endpoints: [a] } = await pipelineWithEndpoints(c, 1);
  const err = async (method: string, params: unknown) => (await c.request(method, params)).error;

  expect(await err('describe', { object: 'nope_kurento.MediaPipeline' })).toEqual({ code: 40101, message: "Object 'nope_kurento.MediaPipeline' not found", data: { type: 'MEDIA_OBJECT_NOT_FOUND' } });
  expect(await err('invoke', { object: 'nope', operation: 'getName' })).toMatchObject({ code: 40101, data: { type: 'MEDIA_OBJECT_NOT_FOUND' } });
  expect(await err('subscribe', { object: 'nope', type: 'Error' })).toMatchObject({ code: 40101 });
  expect(await err('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: 'gone_kurento.MediaPipeline' } })).toMatchObject({ code: 40101 });
  // An unknown type is 40100 MEDIA_OBJECT_TYPE_NOT_FOUND (KMS 7 says 40108; see kurento/README.md).
  expect(await err('create', { type: 'TeleportEndpoint', constructorParams: {} })).toEqual({ code: 40100, message: "Factory 'TeleportEndpoint' not found", data: { type: 'MEDIA_OBJECT_TYPE_NOT_FOUND' } });
  // KMS types this engine does not implement.
  expect(await err('create', { type: 'RtpEndpoint', constructorParams: { mediaPipeline: pipeline } })).toMatchObject({ code: 40100, data: { type: 'MEDIA_OBJECT_TYPE_NOT_FOUND' } });
  // An unknown operation is 40105 MEDIA_OBJECT_METHOD_NOT_FOUND (KMS 7 says 40008; see kurento/README.md).
  expect(await err('invoke', { object: a, operation: 'fly', operationParams: { height: 3 } })).toEqual({ code: 40105, message: "Method 'fly' with 1 parameters not found", data: { type: 'MEDIA_OBJECT_METHOD_NOT_FOUND' } });
  expect(await err('subscribe', { object: a, type: 'EndOfStream' })).toEqual({ code: 40106, message: "Event 'EndOfStream' not supported", data: { type: 'MEDIA_OBJECT_EVENT_NOT_SUPPORTED' } });
  expect(await err('invoke', { object: a, operation: 'processOffer', operationParams: {} })).toEqual({ code: 40001, message: "'offer' parameter should be a string", data: { type: 'MARSHALL_ERROR' } });
  expect(await err('invoke', { object: a, operation: 'isMediaFlowingIn', operationParams: { mediaType: 'SMELL' } })).toMatchObject({ code: 40001 });
  expect(await err('invoke', { object: a, operation: 'connect', operationParams: { sink: 'nope' } })).toMatchObject({ code: 40101 });
  const other = await pipelineWithEndpoints(c, 1);
  expect(await err('invoke', { object: a, operation: 'connect', operationParams: { sink: other.endpoints[0] } })).toEqual({ code: 40004, message: 'Media elements do not share pipeline', data: { type: 'CONNECT_ERROR' } });
  expect(await err('invoke', { object: a, operation: 'getLocalSessionDescriptor' })).toMatchObject({ code: 40202, data: { type: 'SDP_END_POINT_NO_LOCAL_SDP_ERROR' } });
  expect(await err('invoke', { object: a, operation: 'processAnswer', operationParams: { answer: 'v=0\r\n' } })).toMatchObject({ code: 40209, data: { type: 'SDP_END_POINT_NOT_OFFER_GENERATED' } });
  // Releasing something unknown is not an error in KMS.
  expect((await c.call('release', { object: 'nope' })).sessionId).toBeDefined();
  await c.call('release', { object: pipeline });
  await c.call('release', { object: other.pipeline });
});

test('garbage SDP and candidates for unknown endpoints get SDP/object errors; a real offer gets an answer without candidates', async () => {
  const c = await open();
  const { pipeline, endpoints: [a, b] } = await pipelineWithEndpoints(c, 2);
  const invoke = (object: string, operation: string, operationParams?: unknown) => c.request('invoke', { object, operation, operationParams });
  expect((await invoke(a, 'processOffer', { offer: '' })).error).toEqual({ code: 40201, message: 'Empty offer not valid', data: { type: 'SDP_PARSE_ERROR' } });
  expect((await invoke(a, 'processOffer', { offer: 'hello, I am not SDP' })).error).toMatchObject({ code: 40201, data: { type: 'SDP_PARSE_ERROR' } });
  const broken = (await invoke(a, 'processOffer', { offer: 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n' })).error;
  expect(broken.code).toBeGreaterThanOrEqual(40200);
  expect(broken.code).toBeLessThan(40300);
  const candidate = { __module__: 'kurento', __type__: 'IceCandidate', candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 };
  expect((await invoke('gone_kurento.MediaPipeline/x_kurento.WebRtcEndpoint', 'addIceCandidate', { candidate })).error).toMatchObject({ code: 40101, data: { type: 'MEDIA_OBJECT_NOT_FOUND' } });
  expect((await invoke(a, 'addIceCandidate', { candidate: 'not an object' })).error).toMatchObject({ code: 40001 });
  // An end-of-candidates notification (empty candidate) is accepted and ignored, as KMS does.
  expect((await invoke(a, 'addIceCandidate', { candidate: { ...candidate, candidate: '' } })).error).toBeUndefined();

  // The server as offerer: a real SDP offer, no candidates in it (trickle ICE), second offer refused.
  const offer = (await invoke(b, 'generateOffer')).result.value;
  expect(offer).toMatch(/^v=0\r\n/);
  expect(offer).toMatch(/^m=(audio|video) /m);
  expect(offer).not.toMatch(/a=candidate:/);
  expect((await invoke(b, 'getLocalSessionDescriptor')).result.value).toBe(offer);
  expect((await invoke(b, 'generateOffer')).error).toMatchObject({ code: 40208, data: { type: 'SDP_END_POINT_ALREADY_NEGOTIATED' } });
  await c.call('release', { object: pipeline });
});

test('release cascades from the pipeline to every element, with ObjectDestroyed for each', async () => {
  const c = await open();
  const sub = await c.call('subscribe', { object: 'manager_ServerManager', type: 'ObjectDestroyed' });
  expect(sub.value).toMatch(/^[0-9a-f-]{36}$/);
  const created = await c.call('subscribe', { object: 'manager_ServerManager', type: 'ObjectCreated' });
  const { pipeline, endpoints } = await pipelineWithEndpoints(c, 3);
  await c.call('invoke', { object: endpoints[0], operation: 'connect', operationParams: { sink: endpoints[1] } });
  const children = (await c.call('invoke', { object: pipeline, operation: 'getChildren' })).value;
  expect([...children].sort()).toEqual([...endpoints].sort());
  expect((await c.call('invoke', { object: 'manager_ServerManager', operation: 'getPipelines' })).value).toContain(pipeline);
  const createdEvent = await c.next((m) => m.method === 'onEvent' && m.params.value.type === 'ObjectCreated' && m.params.value.data.object === endpoints[2]);
  expect(createdEvent.params.value).toEqual({
    type: 'ObjectCreated', object: 'manager_ServerManager',
    data: { object: endpoints[2], source: 'manager_ServerManager', tags: [], timestamp: expect.stringMatching(/^\d+$/), timestampMillis: expect.stringMatching(/^\d+$/) },
  });

  await c.call('release', { object: pipeline });
  for (const id of [pipeline, ...endpoints]) {
    expect((await c.request('describe', { object: id })).error).toMatchObject({ code: 40101 });
    await c.next((m) => m.method === 'onEvent' && m.params.value.type === 'ObjectDestroyed' && m.params.value.data.objectId === id);
  }
  expect((await c.call('invoke', { object: 'manager_ServerManager', operation: 'getPipelines' })).value).not.toContain(pipeline);
  await c.call('unsubscribe', { object: 'manager_ServerManager', subscription: sub.value });
  await c.call('unsubscribe', { object: 'manager_ServerManager', subscription: created.value });
});

test('event payloads: ElementConnected/ElementDisconnected as KMS sends them, tags when asked, one copy per session', async () => {
  const c = await open();
  const { pipeline, endpoints: [a, b] } = await pipelineWithEndpoints(c, 2);
  const s1 = (await c.call('subscribe', { object: a, type: 'ElementConnected' })).value;
  const s2 = (await c.call('subscribe', { object: a, type: 'ElementConnected' })).value;
  expect(s2).not.toBe(s1);
  await c.call('subscribe', { object: a, type: 'ElementDisconnected' });
  await c.call('invoke', { object: a, operation: 'connect', operationParams: { sink: b, mediaType: 'VIDEO' } });
  const ev = await c.next((m) => m.method === 'onEvent' && m.params.value.type === 'ElementConnected');
  expect(ev).toEqual({
    jsonrpc: '2.0', method: 'onEvent',
    params: { value: {
      type: 'ElementConnected', object: a,
      data: {
        source: a, sink: b, mediaType: 'VIDEO', sourceMediaDescription: 'default', sinkMediaDescription: 'default',
        tags: [], timestamp: expect.stringMatching(/^\d{10}$/), timestampMillis: expect.stringMatching(/^\d{13}$/), type: 'ElementConnected',
      },
    } },
  });
  expect(ev.id).toBeUndefined();
  await c.call('ping');
  expect(c.events('ElementConnected')).toHaveLength(1); // two subscriptions, one copy

  await c.call('invoke', { object: a, operation: 'addTag', operationParams: { key: 'busk', value: '42' } });
  await c.call('invoke', { object: a, operation: 'setSendTagsInEvents', operationParams: { sendTagsInEvents: true } });
  await c.call('invoke', { object: a, operation: 'disconnect', operationParams: { sink: b, mediaType: 'VIDEO' } });
  const dis = await c.next((m) => m.method === 'onEvent' && m.params.value.type === 'ElementDisconnected');
  expect(dis.params.value.data).toMatchObject({ sink: b, mediaType: 'VIDEO', tags: [{ __module__: 'kurento', __type__: 'Tag', key: 'busk', value: '42' }] });

  // After unsubscribing both, no more ElementConnected.
  await c.call('unsubscribe', { object: a, subscription: s1 });
  await c.call('invoke', { object: a, operation: 'connect', operationParams: { sink: b, mediaType: 'AUDIO' } });
  await c.call('ping');
  expect(c.events('ElementConnected')).toHaveLength(2);
  await c.call('unsubscribe', { object: a, subscription: s2 });
  await c.call('invoke', { object: a, operation: 'connect', operationParams: { sink: b, mediaType: 'VIDEO' } });
  await c.call('ping');
  expect(c.events('ElementConnected')).toHaveLength(2);
  const conns = (await c.call('invoke', { object: b, operation: 'getSourceConnections' })).value;
  expect(conns).toHaveLength(2);
  expect(conns[0]).toEqual({ __module__: 'kurento', __type__: 'ElementConnectionData', source: a, sink: b, type: expect.any(String), sourceDescription: 'default', sinkDescription: 'default' });
  await c.call('release', { object: pipeline });
});

test('sessions: a dropped socket frees nothing; connect resumes the session and delivers held events; unknown session → 40007', async () => {
  const c1 = await open();
  const { pipeline, endpoints: [a, b] } = await pipelineWithEndpoints(c1, 2);
  const sessionId = (await c1.call('ping')).sessionId;
  await c1.call('subscribe', { object: a, type: 'ElementConnected' });
  const socketsBefore = server.stats.sockets;
  await c1.close();
  await waitFor(() => server.stats.sockets === socketsBefore - 1, 5000, 'server saw the socket close');

  // Another client acts on the objects while the first session has no socket: the event is held.
  const other = await open();
  await other.call('invoke', { object: a, operation: 'connect', operationParams: { sink: b, mediaType: 'AUDIO' } });

  const c2 = await open(1000);
  expect((await c2.request('connect', { sessionId: 'no-such-session' })).error).toEqual({ code: 40007, message: 'Invalid session', data: { type: 'INVALID_SESSION' } });
  const resumed = await c2.call('connect', { sessionId });
  expect(resumed).toEqual({ sessionId, serverId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
  const held = await c2.next((m) => m.method === 'onEvent');
  expect(held.params.value).toMatchObject({ type: 'ElementConnected', object: a, data: { sink: b, mediaType: 'AUDIO' } });
  // Objects survived, and the resumed socket gets new events of the old subscriptions.
  expect((await c2.call('describe', { object: a })).sessionId).toBe(sessionId);
  await c2.call('invoke', { object: a, operation: 'connect', operationParams: { sink: b, mediaType: 'VIDEO' } });
  await c2.next((m) => m.method === 'onEvent' && m.params.value.data.mediaType === 'VIDEO');
  // connect without params opens a new session.
  const fresh = await (await open()).call('connect');
  expect(fresh.sessionId).not.toBe(sessionId);
  const sessions = (await c2.call('invoke', { object: 'manager_ServerManager', operation: 'getSessions' })).value;
  expect(sessions).toEqual(expect.arrayContaining([sessionId, fresh.sessionId]));
  await c2.call('release', { object: pipeline });
});

test('a repeated request (same session and id) is answered from the cache, not run twice', async () => {
  const c = await open();
  const sessionId = (await c.call('connect')).sessionId;
  const params = { type: 'MediaPipeline', constructorParams: {}, sessionId };
  const first = await c.request('create', params, 500);
  c.messages.length = 0;
  const again = await c.request('create', params, 500);
  expect(again).toEqual(first);
  expect(server.stats.pipelines).toBe(1);
  await c.call('release', { object: first.result.value });
});

test('transaction runs operations in order with newref: references', async () => {
  const c = await open();
  const res = await c.call('transaction', { operations: [
    { jsonrpc: '2.0', id: 0, method: 'create', params: { type: 'MediaPipeline', constructorParams: {} } },
    { jsonrpc: '2.0', id: 1, method: 'create', params: { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: 'newref:0' } } },
    { jsonrpc: '2.0', id: 2, method: 'invoke', params: { object: 'newref:1', operation: 'getMediaPipeline' } },
  ] });
  expect(res.value).toHaveLength(3);
  const pipeline = res.value[0].result.value;
  expect(res.value[1].result.value.startsWith(`${pipeline}/`)).toBe(true);
  expect(res.value[2].result.value).toBe(pipeline);
  await c.call('release', { object: pipeline });
});

test('only the configured path accepts WebSockets', async () => {
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: server.port, path: '/other', headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
    req.on('response', (res) => resolve(res.statusCode ?? 0));
    req.on('upgrade', () => resolve(101));
    req.on('error', reject);
  });
  expect(status).toBe(404);
});

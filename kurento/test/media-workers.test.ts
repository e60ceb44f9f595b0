// The engine on two media worker threads (media/workers): one presenter's media fanned out to
// viewers on both workers (the other worker fed through a pipe), libwebrtc at both ends decoding;
// then what the main thread sees of the peers (events, descriptions, taps) and the pipes' lifecycle.
import { MediaWorkers, type MediaPeer, type WorkerCounts } from '../src/media';
import { waitFor } from '../../test-support/ports';
import { PeerHost, negotiate, presentInto, type ClientPeer } from './media-support';

jest.setTimeout(120000);

const opts = { bindAddress: '127.0.0.1' };
let host: PeerHost;
let workers: MediaWorkers;
let source: MediaPeer;
const cleanups: (() => unknown)[] = [];

function track<T extends { close(): unknown }>(x: T): T {
  cleanups.push(() => x.close());
  return x;
}

/** A sink on the worker with the fewest peers, fed by `from`, and a libwebrtc viewer negotiated into it. */
async function addViewer(from: MediaPeer = source): Promise<{ sink: MediaPeer; viewer: ClientPeer }> {
  const sink = track(workers.createPeer(opts));
  from.connect(sink, ['audio', 'video']);
  const viewer = track(await host.viewer());
  await negotiate(viewer, sink);
  return { sink, viewer };
}

const sent = (c: WorkerCounts) => c.media.packetsOut.audio + c.media.packetsOut.video;

beforeAll(async () => {
  host = new PeerHost();
  workers = await MediaWorkers.start(2);
  source = track(workers.createPeer(opts));
  await presentInto(host, source);
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await workers?.close();
  host?.stop();
});

test('one presenter, viewers on both workers: every viewer decodes, each worker sends media', async () => {
  const viewers: { sink: MediaPeer; viewer: ClientPeer }[] = [];
  for (let i = 0; i < 4; i++) viewers.push(await addViewer());
  const placed = viewers.map((v) => workers.workerOf(v.sink));
  expect(workers.workerOf(source)).toBe(0);
  expect(placed).toEqual([1, 0, 1, 0]); // each to the worker with fewer peers (the presenter counts)
  await waitFor(async () => (await Promise.all(viewers.map((v) => v.viewer.stats()))).every((s) => s.frames >= 15), 30000, 'every viewer decodes >= 15 frames').catch(async (e) => {
    console.log(JSON.stringify(await Promise.all(viewers.map((v) => v.viewer.stats()))), placed, JSON.stringify(await workers.inspect()));
    throw e;
  });
  for (const v of viewers) {
    expect(v.sink.isMediaFlowingOut('video')).toBe(true);
    expect(v.sink.isMediaFlowingOut('audio')).toBe(true);
  }
  const counts = await workers.inspect();
  // Worker 1 has no presenter: what its viewers get came through the pipe.
  expect(counts[1]!.pipesIn).toBe(1);
  expect(counts[0]!.pipesOut).toBe(1);
  expect(counts.map(sent).every((n) => n > 100)).toBe(true);
  expect(counts[1]!.media.packetsIn).toEqual({ audio: 0, video: 0 }); // its viewers send nothing (recv-only wrtc viewers)
});

test('the main thread mirrors descriptions, flows, codecs and taps of a peer in a worker', async () => {
  expect(source.remoteDescription).toMatch(/^v=0/);
  expect(source.localDescription).toMatch(/a=fingerprint:/);
  expect(source.isMediaFlowingIn('video')).toBe(true);
  expect(source.receivedCodec('video')).toBe('video/VP8');
  expect(source.receivedCodec('audio')).toBe('audio/opus');
  const packets: number[] = [];
  const untap = source.tap('video', (rtp) => packets.push(rtp.header.sequenceNumber));
  await waitFor(() => packets.length > 20, 5000, 'tapped video packets');
  untap();
  const stats = await source.rtpStats();
  expect(stats.find((s) => s.direction === 'inbound' && s.kind === 'video')!.packets).toBeGreaterThan(20);
  await expect(source.processOffer('garbage')).rejects.toMatchObject({ kind: 'SDP_PARSE_ERROR' });
});

test('a far viewer disconnected stops flowing; the last one of a worker gone, its pipe closes', async () => {
  const far = await addViewer();
  const near = await addViewer();
  expect(new Set([workers.workerOf(far.sink), workers.workerOf(near.sink)]).size).toBe(2);
  await waitFor(async () => (await far.viewer.stats()).frames >= 5 && (await near.viewer.stats()).frames >= 5, 20000, 'both decode');
  const onWorker1 = [far, near].find((v) => workers.workerOf(v.sink) === 1)!;
  const flowOut: boolean[] = [];
  onWorker1.sink.on('flow-out', (f) => { if (f.kind === 'video') flowOut.push(f.flowing); });
  source.disconnect(onWorker1.sink, ['audio', 'video']);
  await waitFor(() => flowOut.includes(false), 5000, 'the viewer stops flowing out once disconnected');
  const before = await workers.inspect();
  // The earlier test's viewers on worker 1 still use the pipe; close them all: it must go.
  for (const c of cleanups.splice(1)) await c();
  await waitFor(async () => { const c = await workers.inspect(); return c[1]!.pipesIn === 0 && c[0]!.pipesOut === 0; }, 5000, 'pipes closed');
  expect(before[1]!.pipesIn).toBe(1);
  const after = await workers.inspect();
  expect(after.map((c) => c.peers)).toEqual([1, 0]); // only the presenter is left
  expect(after.map((c) => c.waitingOpens)).toEqual([0, 0]);
});

test('the presenter gone, its far viewers stop flowing and the pipe goes with it', async () => {
  const presenter = workers.createPeer(opts); // worker 1 now has fewer peers
  expect(workers.workerOf(presenter)).toBe(1);
  await presentInto(host, presenter);
  const { sink, viewer } = await addViewer(presenter);
  expect(workers.workerOf(sink)).toBe(0);
  await waitFor(async () => (await viewer.stats()).frames >= 5, 20000, 'the far viewer decodes');
  expect((await workers.inspect()).map((c) => [c.pipesIn, c.pipesOut])).toEqual([[1, 0], [0, 1]]);
  const stopped = new Promise<void>((resolve) => sink.on('flow-out', (f) => { if (!f.flowing && f.kind === 'video') resolve(); }));
  await presenter.close();
  await stopped;
  expect(sink.isMediaFlowingOut('video')).toBe(false);
  await waitFor(async () => (await workers.inspect()).every((c) => c.pipesIn === 0 && c.pipesOut === 0), 5000, 'no pipes left');
});

test('a worker that dies: its peers report the loss, the pipe to it ends, new peers go to the other worker', async () => {
  const { sink, viewer } = await addViewer();
  expect(workers.workerOf(sink)).toBe(1);
  await waitFor(async () => (await viewer.stats()).frames >= 5, 20000, 'the viewer on worker 1 decodes');
  const events: string[] = [];
  sink.on('connection-state', (s) => events.push(s));
  sink.on('error', (e) => events.push(e.type));
  await workers.crashWorker(1);
  await waitFor(() => events.includes('MEDIA_WORKER_LOST'), 5000, 'the loss reported');
  expect(events).toEqual(['DISCONNECTED', 'MEDIA_WORKER_LOST']);
  expect(sink.isMediaFlowingOut('video')).toBe(false);
  await expect(sink.rtpStats()).rejects.toThrow(/media worker 1 stopped/);
  await waitFor(async () => (await workers.inspect())[0]!.pipesOut === 0, 5000, 'the pipe to the dead worker ended');
  expect(workers.workerOf(track(workers.createPeer(opts)))).toBe(0);
  expect(source.isMediaFlowingIn('video')).toBe(true);
});

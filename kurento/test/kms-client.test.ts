// The engine driven by the real kurento-client 7.2.0 the way the signaling service drives KMS:
// pipeline, presenter, viewers, connect, events, trickle ICE with real WebRTC peers (@roamhq/wrtc),
// release, getPipelines/getChildren, and resuming the session after the control socket drops.
// The wrtc peers live in a child process (PeerHost): in the jest process their native threads keep
// Node from exiting.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { waitFor } from '../../test-support/ports';
import { negotiateThroughKms, nextEvent } from './kms-client-support';
import { kmsTestBed } from './kms-test-bed';
import type { ClientPeer } from './media-support';

jest.setTimeout(120000);


// Every test twice: peers on the engine's thread, and on two media workers (media/workers).
describe.each([{ workers: 0 }, { workers: 2 }])('media workers: $workers', ({ workers }) => {
  const bed = kmsTestBed({ workers });

  test('kurento-client connects: ServerManager info lists core, elements and filters', async () => {
    const manager = await bed.kms.getServerManager();
    const info = await manager.getInfo();
    expect(info.modules.map((m: any) => m.name).sort()).toEqual(['core', 'elements', 'filters']);
    expect(info.type).toBe('KMS');
    expect(await manager.getCpuCount()).toBeGreaterThan(0);
    expect(await manager.getUsedMemory()).toBeGreaterThan(1000);
    const cpu = await manager.getUsedCpu(100);
    expect(cpu).toBeGreaterThanOrEqual(0);
    expect(Array.isArray(await manager.getSessions())).toBe(true);
  });

  test('one presenter, two viewers: connect, trickle ICE, events, media reaches the viewers, release', async () => {
    const manager = await bed.kms.getServerManager();
    const created: string[] = [];
    const destroyed: string[] = [];
    const subscriptionsBefore = bed.server.stats.subscriptions;
    manager.on('ObjectCreated', (e: any) => created.push(e.object));
    manager.on('ObjectDestroyed', (e: any) => destroyed.push(e.objectId));
    await waitFor(() => bed.server.stats.subscriptions === subscriptionsBefore + 2, 5000, 'ServerManager subscriptions');

    const pipeline = await bed.kms.create('MediaPipeline');
    expect(pipeline.id).toMatch(/^[0-9a-f-]{36}_kurento\.MediaPipeline$/);
    const presenterEp = await pipeline.create('WebRtcEndpoint');
    expect(presenterEp.id).toMatch(new RegExp(`^${pipeline.id}/[0-9a-f-]{36}_kurento\\.WebRtcEndpoint$`));

    const presenter = await bed.host.presenter({ fps: 15 });
    bed.stops.push(() => presenter.close());
    const connected = nextEvent(presenterEp, 'ConnectionStateChanged', (e) => e.newState === 'CONNECTED');
    const flowingIn = nextEvent(presenterEp, 'MediaFlowInStateChanged', (e) => e.state === 'FLOWING' && e.mediaType === 'VIDEO');
    const firstCandidate = nextEvent(presenterEp, 'IceCandidateFound');
    await negotiateThroughKms(presenter, presenterEp);
    const cand = await firstCandidate;
    expect(cand).toMatchObject({ source: presenterEp.id, type: 'IceCandidateFound', candidate: { __module__: 'kurento', __type__: 'IceCandidate' } });
    expect(cand.candidate.candidate).toMatch(/^candidate:/);
    expect(typeof cand.candidate.sdpMLineIndex).toBe('number');
    expect(cand.timestampMillis).toMatch(/^\d{13}$/);
    const conn = await connected;
    expect(conn).toMatchObject({ oldState: 'DISCONNECTED', newState: 'CONNECTED', source: presenterEp.id, tags: [] });
    const flow = await flowingIn;
    expect(flow).toMatchObject({ padName: 'default', mediaType: 'VIDEO', state: 'FLOWING' });
    expect(await presenterEp.getConnectionState()).toBe('CONNECTED');
    expect(await presenterEp.isMediaFlowingIn('VIDEO')).toBe(true);

    const viewers: { ep: any; viewer: ClientPeer }[] = [];
    for (let i = 0; i < 2; i++) {
      const ep = await pipeline.create('WebRtcEndpoint');
      const elementConnected: any[] = [];
      presenterEp.on('ElementConnected', (e: any) => { if (e.sink === ep.id) elementConnected.push(e); });
      const flowOut = nextEvent(ep, 'MediaFlowOutStateChanged', (e) => e.state === 'FLOWING' && e.mediaType === 'VIDEO');
      const viewer = await bed.host.viewer();
      bed.stops.push(() => viewer.close());
      await negotiateThroughKms(viewer, ep);
      await presenterEp.connect(ep);
      await waitFor(() => elementConnected.length === 3, 10000, 'ElementConnected for AUDIO, VIDEO and DATA');
      expect(elementConnected.map((e) => e.mediaType).sort()).toEqual(['AUDIO', 'DATA', 'VIDEO']);
      expect(elementConnected[0]).toMatchObject({ source: presenterEp.id, sink: ep.id, sourceMediaDescription: 'default', sinkMediaDescription: 'default', type: 'ElementConnected' });
      await flowOut;
      await waitFor(async () => (await viewer.frames()) > 0, 20000, `viewer ${i} decodes frames`);
      viewers.push({ ep, viewer });
    }

    const sinks = await presenterEp.getSinkConnections();
    expect(sinks).toHaveLength(6);
    expect(sinks[0]).toMatchObject({ __type__: 'ElementConnectionData', source: presenterEp.id, sourceDescription: 'default' });
    const sources = await viewers[0].ep.getSourceConnections('VIDEO');
    expect(sources).toEqual([expect.objectContaining({ source: presenterEp.id, sink: viewers[0].ep.id, type: 'VIDEO' })]);

    const children = await pipeline.getChildren();
    expect(children.map((c: any) => c.id).sort()).toEqual([presenterEp.id, viewers[0].ep.id, viewers[1].ep.id].sort());
    const pipelines = await manager.getPipelines();
    expect(pipelines.map((p: any) => p.id)).toContain(pipeline.id);
    expect(created).toEqual(expect.arrayContaining([pipeline.id, presenterEp.id]));

    // A viewer leaves: its endpoint goes, the presenter's sink connections shrink, the other keeps playing.
    await viewers[0].ep.release();
    await waitFor(() => destroyed.includes(viewers[0].ep.id), 5000, 'ObjectDestroyed for the viewer');
    expect(await presenterEp.getSinkConnections()).toHaveLength(3);
    const before = await viewers[1].viewer.frames();
    await waitFor(async () => (await viewers[1].viewer.frames()) > before + 5, 10000, 'remaining viewer keeps decoding');

    // Releasing the pipeline releases every element.
    await pipeline.release();
    await waitFor(() => destroyed.includes(presenterEp.id) && destroyed.includes(viewers[1].ep.id) && destroyed.includes(pipeline.id), 5000, 'cascade');
    expect((await manager.getPipelines()).map((p: any) => p.id)).not.toContain(pipeline.id);
    expect(bed.server.stats.objects).toBe(0);
  });

  test('properties: KMS defaults and get/set round trips; name and tags', async () => {
    const pipeline = await bed.kms.create('MediaPipeline');
    const ep = await pipeline.create('WebRtcEndpoint');
    expect(await ep.getMaxVideoSendBandwidth()).toBe(500);
    expect(await ep.getMinVideoSendBandwidth()).toBe(100);
    expect(await ep.getMaxVideoRecvBandwidth()).toBe(0);
    expect(await ep.getStunServerPort()).toBe(3478);
    expect(await ep.getStunServerAddress()).toBe('');
    await ep.setMaxVideoSendBandwidth(2000);
    await ep.setMaxVideoRecvBandwidth(1500);
    await ep.setMaxAudioRecvBandwidth(64);
    await ep.setMinVideoRecvBandwidth(300);
    await ep.setStunServerAddress('127.0.0.1');
    await ep.setStunServerPort(3479);
    await ep.setTurnUrl('kurento:secret@127.0.0.1:3478?transport=udp');
    expect(await ep.getMaxVideoSendBandwidth()).toBe(2000);
    expect(await ep.getMaxVideoRecvBandwidth()).toBe(1500);
    expect(await ep.getMaxAudioRecvBandwidth()).toBe(64);
    expect(await ep.getMinVideoRecvBandwidth()).toBe(300);
    expect(await ep.getStunServerAddress()).toBe('127.0.0.1');
    expect(await ep.getStunServerPort()).toBe(3479);
    expect(await ep.getTurnUrl()).toBe('kurento:secret@127.0.0.1:3478?transport=udp');
    expect(await ep.getMediaState()).toBe('DISCONNECTED');
    expect(await ep.getConnectionState()).toBe('DISCONNECTED');
    expect(await ep.isMediaFlowingIn('AUDIO')).toBe(false);

    expect(await ep.getName()).toBe(ep.id);
    await ep.setName('presenter');
    expect(await ep.getName()).toBe('presenter');
    await ep.addTag('busk', 'b-1');
    expect(await ep.getTag('busk')).toBe('b-1');
    expect(await ep.getTags()).toEqual([expect.objectContaining({ key: 'busk', value: 'b-1' })]);
    // kurento-client's promise form of some calls resolves undefined on errors: use the callback.
    const err = await new Promise<any>((resolve) => ep.getTag('nope', (e: any) => resolve(e)));
    expect(err).toMatchObject({ code: 40110, data: { type: 'MEDIA_OBJECT_TAG_KEY_NOT_FOUND' } });
    await ep.setSendTagsInEvents(true);
    const sink = await pipeline.create('WebRtcEndpoint');
    const ev = nextEvent(ep, 'ElementConnected');
    await ep.connect(sink, 'VIDEO');
    expect((await ev).tags).toEqual([expect.objectContaining({ key: 'busk', value: 'b-1' })]);
    expect((await ep.getParent()).id).toBe(pipeline.id);
    expect((await ep.getMediaPipeline()).id).toBe(pipeline.id);
    expect(Math.abs((await ep.getCreationTime()) - Date.now() / 1000)).toBeLessThan(60);
    await pipeline.release();
  });

  test('control socket dropped: kurento-client reconnects with `connect`, objects and subscriptions survive', async () => {
    const pipeline = await bed.kms.create('MediaPipeline');
    const a = await pipeline.create('WebRtcEndpoint');
    const b = await pipeline.create('WebRtcEndpoint');
    const disconnected: any[] = [];
    const subscriptionsBefore = bed.server.stats.subscriptions;
    a.on('ElementDisconnected', (e: any) => disconnected.push(e));
    // kurento-client does not resend a request lost with the socket: let the subscribe land first.
    await waitFor(() => bed.server.stats.subscriptions > subscriptionsBefore, 5000, 'subscription registered');

    const reconnected = new Promise<boolean>((resolve) => bed.kms.once('reconnected', resolve));
    bed.server.dropConnections();
    const sameSession = await reconnected;
    expect(sameSession).toBe(true);

    // Objects are still there and usable from the resumed session.
    expect(await a.getName()).toBe(a.id);
    const ids = (await (await bed.kms.getServerManager()).getPipelines()).map((p: any) => p.id);
    expect(ids).toContain(pipeline.id);
    // The subscription made before the drop delivers on the new socket.
    await a.disconnect(b, 'AUDIO');
    await waitFor(() => disconnected.length === 1, 10000, 'ElementDisconnected after reconnect');
    expect(disconnected[0]).toMatchObject({ sink: b.id, mediaType: 'AUDIO' });
    await pipeline.release();
  });
});

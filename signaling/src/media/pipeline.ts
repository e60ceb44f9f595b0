// One busk's MediaPipeline. It owns the endpoints this node creates in it: releasing the pipeline
// releases every one of them on the media server, so they close with it. Its own 'close' tells the
// media server client that holds it.
import { EventEmitter } from 'node:events';
import { KPipeline, KWebRtc, kcall } from './kurento';
import { Endpoint, guardErrors } from './endpoint';
import { mediaCall, withTimeout } from './errors';
import type { MediaServerClient } from './server-client';

export interface PipelineEvents {
  /** Released, lost with the media server session, or handed to another node: gone from this node. */
  close: [];
}

export class Pipeline extends EventEmitter<PipelineEvents> {
  private released = false;
  private readonly endpoints = new Map<string, Endpoint>();

  constructor(readonly k: KPipeline, readonly server: MediaServerClient, private readonly timeoutMs: number) {
    super();
    guardErrors(k, () => {});
  }

  get id(): string { return this.k.id; }
  get isReleased(): boolean { return this.released; }

  async createEndpoint(): Promise<Endpoint> {
    const k = await mediaCall<KWebRtc>((cb) => this.k.create('WebRtcEndpoint', cb), this.timeoutMs, 'create WebRtcEndpoint', 'could not create an endpoint');
    const ep = new Endpoint(k, this.id, this.timeoutMs);
    this.endpoints.set(ep.id, ep);
    ep.once('close', () => { if (this.endpoints.get(ep.id) === ep) this.endpoints.delete(ep.id); });
    return ep;
  }

  /** An endpoint this node created in this pipeline (undefined once it closed). */
  endpoint(id: string): Endpoint | undefined { return this.endpoints.get(id); }

  /** An endpoint created elsewhere (another node) in this pipeline. Not owned here. */
  async endpointById(id: string): Promise<Endpoint> {
    return this.server.endpointById(id, this.id);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.close();
    try {
      await withTimeout(kcall<void>((cb) => this.k.release(cb)), this.timeoutMs, 'release pipeline');
    } catch { /* gone with its session */ }
  }

  /** The media server lost it (INVALID_SESSION): gone without a call. */
  lost(): void { this.close(); }

  /** Another node took the busk over and releases the pipeline from now on: leave it on the server. */
  handOver(): void { this.close(); }

  private close(): void {
    if (this.released) return;
    this.released = true;
    // The endpoints go with the pipeline on the media server: no call of their own.
    for (const ep of [...this.endpoints.values()]) ep.lost();
    this.emit('close');
    this.removeAllListeners();
  }
}

// One busk's MediaPipeline. Releasing it releases every endpoint in it on the media server.
import { KPipeline, KWebRtc, kcall } from './kurento';
import { Endpoint, guardErrors } from './endpoint';
import { MediaError, withTimeout } from './errors';
import type { MediaServer } from './server';

export class Pipeline {
  private released = false;

  constructor(readonly k: KPipeline, readonly server: MediaServer, private readonly timeoutMs: number, readonly owned: boolean) {
    guardErrors(k, () => {});
  }

  get id(): string { return this.k.id; }
  get isReleased(): boolean { return this.released; }

  async createEndpoint(): Promise<Endpoint> {
    let k: KWebRtc;
    try {
      k = await withTimeout(kcall<KWebRtc>((cb) => this.k.create('WebRtcEndpoint', cb)), this.timeoutMs, 'create WebRtcEndpoint');
    } catch (e) {
      throw MediaError.from(e, 'could not create an endpoint');
    }
    return new Endpoint(k, this.id, this.timeoutMs);
  }

  /** An endpoint created elsewhere (another node) in this pipeline. */
  async endpointById(id: string): Promise<Endpoint> {
    return this.server.endpointById(id, this.id);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.server.forget(this);
    try {
      await withTimeout(kcall<void>((cb) => this.k.release(cb)), this.timeoutMs, 'release pipeline');
    } catch { /* gone with its session */ }
  }
}

// The media servers this node may use: KMS_URLS, or the one embedded engine. New busks go to the
// least-loaded server that is up; a server's 'session-lost' is re-emitted with the server so the
// busk service can rebuild the busks that lived there.
import { EventEmitter } from 'node:events';
import { MediaServer } from './server';
import { MediaError } from './errors';
import type { Pipeline } from './pipeline';

export interface MediaPoolEvents {
  'session-lost': [MediaServer];
  down: [MediaServer];
  up: [MediaServer];
}

export class MediaPool extends EventEmitter<MediaPoolEvents> {
  readonly servers: MediaServer[];

  constructor(urls: string[], timeoutMs = 10000) {
    super();
    if (urls.length === 0) throw new Error('MediaPool needs at least one media server URL');
    this.servers = urls.map((u) => new MediaServer(u, timeoutMs));
    for (const s of this.servers) {
      s.on('session-lost', () => this.emit('session-lost', s));
      s.on('down', () => this.emit('down', s));
      s.on('up', () => this.emit('up', s));
    }
  }

  start(): void {
    for (const s of this.servers) s.start();
  }

  /** Waits until at least one server is up (startup), or rejects after `ms`. */
  async ready(ms: number): Promise<void> {
    await Promise.any(this.servers.map((s) => s.ready(ms))).catch(() => {
      throw new MediaError('unavailable', 'no media server reachable');
    });
  }

  get anyUp(): boolean { return this.servers.some((s) => s.isUp); }

  server(url: string): MediaServer | undefined { return this.servers.find((s) => s.url === url); }

  async leastLoaded(): Promise<MediaServer> {
    const up = this.servers.filter((s) => s.isUp);
    if (up.length === 0) throw new MediaError('unavailable', 'no media server available');
    if (up.length === 1) return up[0];
    const loads = await Promise.all(up.map((s) => s.load()));
    let best = 0;
    for (let i = 1; i < up.length; i++) if (loads[i] < loads[best]) best = i;
    return up[best];
  }

  async createPipeline(): Promise<Pipeline> {
    return (await this.leastLoaded()).createPipeline();
  }

  localPipelineCount(): number {
    return this.servers.reduce((n, s) => n + s.pipelines.size, 0);
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.close()));
  }
}

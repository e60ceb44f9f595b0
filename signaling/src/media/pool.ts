// The media servers this node may use: KMS_URLS, or the one embedded engine. New busks go to the
// least-loaded server that is up; a server's 'session-lost' is re-emitted with the server so the
// busk service can rebuild the busks that lived there.
import { EventEmitter } from 'node:events';
import { MediaServerClient } from './server-client';
import { MediaError } from './errors';
import type { Pipeline } from './pipeline';

export interface MediaPoolEvents {
  'session-lost': [MediaServerClient];
  down: [MediaServerClient];
  up: [MediaServerClient];
}

export class MediaPool extends EventEmitter<MediaPoolEvents> {
  readonly servers: MediaServerClient[];

  constructor(urls: string[], timeoutMs = 10000) {
    super();
    if (urls.length === 0) throw new Error('MediaPool needs at least one media server URL');
    this.servers = urls.map((u) => new MediaServerClient(u, timeoutMs));
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

  server(url: string): MediaServerClient | undefined { return this.servers.find((s) => s.url === url); }

  /**
   * The up server with the fewest pipelines, counting pipelines being created right now: busks that
   * start together read the loads before any of their pipelines exists, and would all pick the same
   * server without that count. The choice and its reservation happen in one synchronous step.
   */
  private async leastLoaded(): Promise<MediaServerClient> {
    const up = this.servers.filter((s) => s.isUp);
    if (up.length === 0) throw new MediaError('unavailable', 'no media server available');
    const loads = up.length === 1 ? [0] : await Promise.all(up.map((s) => s.load()));
    let best = 0;
    for (let i = 1; i < up.length; i++) if (loads[i] + this.placing(up[i]) < loads[best] + this.placing(up[best])) best = i;
    this.inFlight.set(up[best], this.placing(up[best]) + 1);
    return up[best];
  }

  private inFlight = new Map<MediaServerClient, number>();
  private placing(s: MediaServerClient): number { return this.inFlight.get(s) ?? 0; }

  async createPipeline(): Promise<Pipeline> {
    const server = await this.leastLoaded();
    try {
      return await server.createPipeline();
    } finally {
      const n = this.placing(server) - 1;
      if (n > 0) this.inFlight.set(server, n); else this.inFlight.delete(server);
    }
  }

  localPipelineCount(): number {
    return this.servers.reduce((n, s) => n + s.pipelineCount, 0);
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.close()));
  }
}

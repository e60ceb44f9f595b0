// This node's client of one media server (KMS or the embedded engine): one kurento-client
// connection. It owns the pipelines this node holds there; a pipeline's 'close' removes it.
// kurento-client reconnects by itself; we translate its signals into three events:
//   'down' (socket lost), 'up' (socket back), 'session-lost' (reconnected, but the server answered
//   INVALID_SESSION: every object we had there is gone, e.g. the server restarted).
import { EventEmitter } from 'node:events';
import { KClient, KObject, KPipeline, KServerManager, KWebRtc, kcall, kurento } from './kurento';
import { Endpoint } from './endpoint';
import { MediaError, mediaCall, withTimeout } from './errors';
import { Pipeline } from './pipeline';
import { quietKurentoClient } from './quiet';
import { log } from '../log';

export interface MediaServerClientEvents {
  up: [];
  down: [];
  'session-lost': [];
}

export class MediaServerClient extends EventEmitter<MediaServerClientEvents> {
  private client: KClient | null = null;
  private connected = false;
  private closed = false;
  /** Pipelines this node holds here (created or adopted); the least-loaded choice falls back on it. */
  private readonly pipelines = new Map<string, Pipeline>();
  private loadCache: { at: number; value: number } | null = null;
  /** Counts creates and releases, so a load() read that one overtook is not cached. */
  private holdEpoch = 0;
  private forgetLoad(): void { this.loadCache = null; this.holdEpoch++; }

  /** The server's URL without its access token: what logs, metrics and busk records name. */
  readonly url: string;
  /** `?access_token=` of the configured URL (the embedded engine's shared secret), sent by kurento-client. */
  private readonly accessToken: string | undefined;

  constructor(url: string, private readonly timeoutMs = 10000) {
    super();
    const u = new URL(url);
    this.accessToken = u.searchParams.get('access_token') ?? undefined;
    u.searchParams.delete('access_token');
    this.url = this.accessToken === undefined ? url : u.toString();
  }

  get isUp(): boolean { return this.connected && !this.closed; }

  start(): void {
    quietKurentoClient();
    // duplicates_timeout: after each answer kurento-jsonrpc keeps the request id for this long to
    // ignore a duplicate answer, in a timer that is not unref'd and that close() cannot clear (20 s
    // by default: a process, a test run, could not exit for 20 s after close). Duplicates come
    // from retried requests only, and kurento-client does not retry (max_retries 0).
    const client = kurento(this.url, {
      failAfter: Infinity, request_timeout: this.timeoutMs, response_timeout: this.timeoutMs, duplicates_timeout: 500,
      ...(this.accessToken !== undefined ? { access_token: this.accessToken } : {}),
    });
    this.client = client;
    const re = client._re;
    // reconnect-core re-emits socket errors; without a listener they would be uncaught exceptions.
    re.on('error', (e: Error) => log.debug('media', `${this.url}: ${e.message}`));
    re.on('connection', () => {
      if (this.closed) return;
      const was = this.connected;
      this.connected = true;
      if (!was) { log.info('media', `connected to ${this.url}`); this.emit('up'); }
    });
    re.on('disconnect', () => {
      if (this.closed) return;
      const was = this.connected;
      this.connected = false;
      if (was) { log.warn('media', `lost connection to ${this.url}`); this.emit('down'); }
    });
    client.on('reconnected', (sameSession: boolean) => {
      if (this.closed || sameSession) return;
      log.warn('media', `${this.url} lost our session (INVALID_SESSION): its objects are gone`);
      for (const p of [...this.pipelines.values()]) p.lost(); // each one's 'close' removes it
      this.forgetLoad();
      this.emit('session-lost');
    });
    // Swallow the constructor's own rejection (strict module check, unreachable server): 'up' tells.
    client.then(() => {}, (e: unknown) => log.warn('media', `${this.url}: ${(e as Error).message}`));
  }

  /** Resolves when connected, rejects after `ms`. */
  async ready(ms = this.timeoutMs): Promise<void> {
    if (this.isUp) return;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => { this.off('up', up); reject(new MediaError('unavailable', `media server ${this.url} unreachable`)); }, ms);
      const up = () => { clearTimeout(t); resolve(); };
      this.once('up', up);
    });
  }

  private get c(): KClient {
    if (!this.client || !this.isUp) throw new MediaError('unavailable', 'media server unavailable');
    return this.client;
  }

  async createPipeline(): Promise<Pipeline> {
    const k = await mediaCall<KPipeline>((cb) => this.c.create('MediaPipeline', cb), this.timeoutMs, 'create MediaPipeline', 'could not create a pipeline');
    return this.hold(new Pipeline(k, this, this.timeoutMs));
  }

  /** A media object by id (created by any node: media server objects are shared). */
  private byId<T extends KObject>(id: string, failure: string): Promise<T> {
    return mediaCall<KObject>((cb) => this.c.getMediaobjectById(id, cb), this.timeoutMs, 'getMediaobjectById', failure) as Promise<T>;
  }

  /** A pipeline created by another node, for endpoints in it. Not held. */
  async pipelineById(id: string): Promise<Pipeline> {
    return new Pipeline(await this.byId<KPipeline>(id, `pipeline ${id} not found`), this, this.timeoutMs);
  }

  /** Takes over a pipeline another node created (its busk moved here): this node releases it from now on. */
  async adoptPipeline(id: string): Promise<Pipeline> {
    return this.hold(await this.pipelineById(id));
  }

  private hold(p: Pipeline): Pipeline {
    this.pipelines.set(p.id, p);
    this.forgetLoad();
    p.once('close', () => {
      if (this.pipelines.get(p.id) === p) this.pipelines.delete(p.id);
      this.forgetLoad();
    });
    return p;
  }

  /** How many pipelines this node holds here. */
  get pipelineCount(): number { return this.pipelines.size; }

  async endpointById(id: string, pipelineId: string): Promise<Endpoint> {
    return new Endpoint(await this.byId<KWebRtc>(id, `endpoint ${id} not found`), pipelineId, this.timeoutMs);
  }

  /** Releases an object by id, ignoring "not found" (cleanup of a dead node's busk). */
  async releaseById(id: string): Promise<void> {
    try {
      const k = await this.byId<KObject>(id, `object ${id} not found`);
      await withTimeout(kcall<void>((cb) => k.release(cb)), this.timeoutMs, 'release');
    } catch { /* already gone */ }
  }

  /**
   * Pipelines on the server (all nodes' ones), cached briefly; our own count if the call fails. The
   * server's figure is never below the pipelines this node holds there: a read that left before our
   * newest pipeline existed would otherwise send the next busk to a server that just took one. A read
   * overtaken by a create or release is not cached, for the same reason.
   */
  async load(): Promise<number> {
    if (this.loadCache && Date.now() - this.loadCache.at < 1000) return this.loadCache.value;
    const epoch = this.holdEpoch;
    let value = this.pipelines.size;
    try {
      const sm = await withTimeout(kcall<KServerManager>((cb) => this.c.getServerManager(cb)), 2000, 'getServerManager');
      value = (await withTimeout(kcall<KObject[]>((cb) => sm.getPipelines(cb)), 2000, 'getPipelines')).length;
    } catch { /* keep local count */ }
    value = Math.max(value, this.pipelines.size);
    if (epoch === this.holdEpoch) this.loadCache = { at: Date.now(), value };
    return value;
  }

  /** The server's own list of pipelines (tests check that nothing is left behind). */
  async serverPipelineIds(): Promise<string[]> {
    const sm = await withTimeout(kcall<KServerManager>((cb) => this.c.getServerManager(cb)), this.timeoutMs, 'getServerManager');
    return (await withTimeout(kcall<KObject[]>((cb) => sm.getPipelines(cb)), this.timeoutMs, 'getPipelines')).map((p) => p.id);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.connected = false;
    const c = this.client;
    this.client = null;
    if (!c) return;
    try { c.close(); } catch { /* already closed */ }
    // kurento-client's close() disconnects only once its last request has settled, and leaves
    // reconnect-core's backoff timer (up to 30 s, not unref'd) and a connection attempt in flight
    // when the server is down: the process (a test run) could not exit. Stop both now.
    const re = c._re;
    try {
      re.disconnect(); // no more reconnects; ends an open stream (close handshake)
      re.reset(); // clears the backoff timer; its attempt() returns at once, reconnect being off
      const ws = re._connection?.socket;
      if (ws && ws.readyState === 0) ws.close(); // aborts a handshake still under way
    } catch { /* already torn down */ }
  }
}

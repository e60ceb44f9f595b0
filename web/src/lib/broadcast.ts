// One show, from the busker's side: start it, keep its media up across connection drops, network
// changes and the page going to the background, move its pin, end it. The page shows what this
// reports.
import { FlowWatch, type Flow } from './media-health';
import { RequestError, type Signaling } from './stomp';
import type { BuskEvent, LatLng, MediaState } from './types';
import type { SoundSettings } from './sound';
import { Presenter } from './webrtc';

export interface ShowDetails {
  title: string; description: string; hashtags: string[]; location: LatLng | null; record?: boolean;
  /** The service runs the HLS crowd tier: it is made without re-encoding, and HLS players want H.264. */
  crowdTier?: boolean;
}

export type OnAirState = 'starting' | 'live' | 'recovering' | 'ended';

export interface BroadcastEvents {
  state(s: OnAirState, detail?: string): void;
  viewers(n: number): void;
  /** Media as the service sees it, and as this browser's sender sees it. */
  media(service: MediaState | null, local: Flow): void;
  peer(state: RTCPeerConnectionState): void;
  /** The live uplink (all media), from getStats, once a second. */
  uplink?(bitsPerSecond: number, sentLines?: number): void;
  /** Every offer the presenter sends: a fresh connection's or an ICE restart on the same one. */
  offer?(kind: 'new' | 'ice-restart'): void;
}

const START_TIMEOUT_MS = 10000;

export class Broadcast {
  buskId: string | null = null;
  private presenter: Presenter | null = null;
  private watch: FlowWatch | null = null;
  private stops: (() => void)[] = [];
  private serviceMedia: MediaState | null = null;
  private localFlow: Flow = 'waiting';
  private ended = false;
  private saveData = false;

  constructor(
    private readonly signaling: Signaling,
    private readonly iceServers: RTCIceServer[],
    private readonly on: BroadcastEvents,
    /** The sound mode, fixed for the show: its Opus parameters go into every offer. */
    private readonly sound?: SoundSettings,
  ) {}

  async start(details: ShowDetails, stream: MediaStream): Promise<string> {
    this.on.state('starting');
    const started = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { off(); reject(new Error('the service did not start the show')); }, START_TIMEOUT_MS);
      const off = this.signaling.subscribe<{ type: string; buskId: string }>('/user/queue/busk', (m) => {
        if (m.type !== 'started') return;
        clearTimeout(timer);
        off();
        resolve(m.buskId);
      });
    });
    const body: Record<string, unknown> = { title: details.title, description: details.description, hashtags: details.hashtags };
    if (details.location) body.location = details.location;
    if (details.record) body.record = true;
    // Going live right after signing in meets the reconnect that presents the new token: wait for it.
    await this.signaling.whenOnline();
    await this.signaling.request('/app/busk.start', body);
    const id = await started;
    this.buskId = id;
    this.stops.push(this.signaling.subscribe<BuskEvent>(`/topic/busk.${id}`, (ev) => this.onBuskEvent(ev)));
    this.presenter = new Presenter({
      signaling: this.signaling,
      buskId: id,
      iceServers: this.iceServers,
      onState: (s) => this.on.peer(s),
      onError: (e) => this.on.state('recovering', e.message),
      onOffer: (kind) => this.on.offer?.(kind),
    }, stream, this.sound, { h264: !!details.record || !!details.crowdTier });
    this.watch = new FlowWatch(() => this.presenter?.pc ?? null, 'out', (s) => {
      this.localFlow = s.flow;
      this.on.media(this.serviceMedia, s.flow);
      if (s.bitsPerSecond !== undefined) this.on.uplink?.(s.bitsPerSecond, s.sentLines);
    });
    // The STOMP session came back after a drop: the service holds the show for a grace period and
    // expects the presenter's new session to offer again.
    this.stops.push(this.signaling.onConnect((again) => { if (again) void this.renegotiate(); }));
    this.stops.push(this.signaling.onState((s) => { if (s === 'reconnecting' && !this.ended) this.on.state('recovering', 'connection lost, reconnecting'); }));
    await this.presenter.negotiate();
    await this.presenter.setSaveData(this.saveData);
    this.on.state('live');
    return id;
  }

  /** A new camera or microphone track (camera switch, restart after the background): no new offer. */
  async useStream(stream: MediaStream): Promise<void> {
    await this.presenter?.useStream(stream);
  }

  /** Caps the send resolution and bitrate (SAVE_DATA in webrtc.ts) for a busker on mobile data. */
  async setSaveData(on: boolean): Promise<void> {
    this.saveData = on;
    await this.presenter?.setSaveData(on);
  }

  /** The video's shape changed (the phone turned): the save-data scale follows it. */
  async reapplyLimits(): Promise<void> {
    await this.presenter?.applyLimits();
  }

  /**
   * The network changed (or the page came back and its link did not survive): an ICE restart on
   * the same busk and the same connection, at once. Without the STOMP session the offer waits for
   * the reconnect, which restarts ICE itself (see start()).
   */
  async networkChanged(): Promise<void> {
    if (!this.presenter || this.ended || this.signaling.state !== 'online') return;
    this.watch?.reset();
    await this.presenter.restartIce().catch((e) => this.on.state('recovering', (e as Error).message));
  }

  /**
   * The page is visible again after the background. The camera was restarted by the page if the
   * browser had stopped it (useStream); here the leg continues if it is still up, and a new offer
   * is made only if it is not.
   */
  async resume(): Promise<void> {
    const pc = this.presenter?.pc;
    if (!pc || this.ended) return;
    if (pc.connectionState === 'connected' || pc.connectionState === 'connecting' || pc.connectionState === 'new') return;
    await this.networkChanged();
  }

  async moveTo(location: LatLng | null): Promise<void> {
    if (!this.buskId) return;
    await this.signaling.request(`/app/busk.${this.buskId}.location`, location);
  }

  async end(): Promise<void> {
    if (!this.buskId || this.ended) return;
    await this.signaling.request(`/app/busk.${this.buskId}.leave`, {}).catch(() => undefined); // ending anyway
    this.finish('you ended the show');
  }

  private async renegotiate(): Promise<void> {
    if (!this.presenter || this.ended) return;
    this.watch?.reset();
    try {
      // The service gives the new session a new endpoint; this side keeps its connection and
      // only restarts ICE (a fresh connection when there is none to keep).
      await this.presenter.restartIce();
      this.on.state('live');
    } catch (e) {
      // The grace period ran out while we were away: the service already ended the show.
      if (e instanceof RequestError && (e.code === 'not-found' || e.code === 'forbidden')) this.finish('the connection was lost for too long');
      else this.on.state('recovering', (e as Error).message);
    }
  }

  private onBuskEvent(ev: BuskEvent): void {
    if (ev.type === 'viewers') this.on.viewers(ev.count);
    else if (ev.type === 'media') { this.serviceMedia = ev.state; this.on.media(ev.state, this.localFlow); }
    else if (ev.type === 'ended') this.finish(ev.reason ?? 'ended');
  }

  private finish(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.stops.forEach((s) => s());
    this.watch?.stop();
    this.presenter?.close();
    this.on.state('ended', reason);
  }
}

// The small typed surface of kurento-client we use. kurento-client ships no TypeScript types.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const kurento = require('kurento-client') as KurentoModule;

export interface KObject {
  id: string;
  release(): Promise<void>;
  on(event: string, listener: (ev: any) => void): unknown;
  removeAllListeners(event?: string): unknown;
}
export interface KPipeline extends KObject {
  create(type: 'WebRtcEndpoint', params?: Record<string, unknown>): Promise<KWebRtc>;
}
export interface KWebRtc extends KObject {
  processOffer(sdp: string): Promise<string>;
  gatherCandidates(): Promise<void>;
  addIceCandidate(c: unknown): Promise<void>;
  connect(sink: KObject, mediaType?: string): Promise<void>;
  disconnect(sink: KObject): Promise<void>;
}
export interface KServerManager extends KObject {
  getPipelines(): Promise<KObject[]>;
  getInfo(): Promise<{ modules: { name: string }[] }>;
}
export interface KReconnector {
  connected: boolean;
  on(ev: 'disconnect' | 'connection' | 'reconnect' | 'fail' | 'error', l: (...a: any[]) => void): unknown;
  removeAllListeners(ev?: string): unknown;
}
export interface KClient {
  /** Thenable: settles when connected (and the strict module check passed). */
  then(onFulfilled: (c: unknown) => void, onRejected: (e: unknown) => void): unknown;
  readonly _re: KReconnector;
  create(type: 'MediaPipeline'): Promise<KPipeline>;
  getMediaobjectById(id: string): Promise<KObject>;
  getServerManager(): Promise<KServerManager>;
  on(event: 'reconnected' | 'disconnect', l: (...a: any[]) => void): unknown;
  removeAllListeners(ev?: string): unknown;
  close(): void;
}
export interface KurentoModule {
  (url: string, opts?: Record<string, unknown>): KClient;
  getComplexType(name: 'IceCandidate'): (c: { candidate: string; sdpMid: string; sdpMLineIndex: number }) => unknown;
}

export { kurento };

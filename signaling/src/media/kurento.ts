// The small typed surface of kurento-client we use. kurento-client ships no TypeScript types.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const kurento = require('kurento-client') as KurentoModule;

type Cb<T> = (error: unknown, result: T) => void;

export interface KObject {
  id: string;
  release(cb: Cb<void>): unknown;
  on(event: string, listener: (ev: any) => void): unknown;
  removeAllListeners(event?: string): unknown;
}
export interface KPipeline extends KObject {
  create(type: 'WebRtcEndpoint', cb: Cb<KWebRtc>): unknown;
}
export interface KWebRtc extends KObject {
  processOffer(sdp: string, cb: Cb<string>): unknown;
  gatherCandidates(cb: Cb<void>): unknown;
  addIceCandidate(c: unknown, cb: Cb<void>): unknown;
  connect(sink: KObject, cb: Cb<void>): unknown;
  setMaxVideoRecvBandwidth(kbps: number, cb: Cb<void>): unknown;
  setMaxVideoSendBandwidth(kbps: number, cb: Cb<void>): unknown;
}
export interface KServerManager extends KObject {
  getPipelines(cb: Cb<KObject[]>): unknown;
}
export interface KReconnector {
  connected: boolean;
  on(ev: 'disconnect' | 'connection' | 'reconnect' | 'fail' | 'error', l: (...a: any[]) => void): unknown;
  removeAllListeners(ev?: string): unknown;
  /** reconnect-core: stop reconnecting and end the current stream. */
  disconnect(): unknown;
  /** reconnect-core: clears the pending backoff timer, then attempts (a no-op once disconnected). */
  reset(): unknown;
  /** The current websocket-stream; `socket` is its ws WebSocket (readyState 0 while connecting). */
  _connection?: { socket?: { readyState: number; close(): void } };
}
export interface KClient {
  /** Thenable: settles when connected (and the strict module check passed). */
  then(onFulfilled: (c: unknown) => void, onRejected: (e: unknown) => void): unknown;
  readonly _re: KReconnector;
  create(type: 'MediaPipeline', cb: Cb<KPipeline>): unknown;
  getMediaobjectById(id: string, cb: Cb<KObject>): unknown;
  getServerManager(cb: Cb<KServerManager>): unknown;
  on(event: 'reconnected' | 'disconnect', l: (...a: any[]) => void): unknown;
  removeAllListeners(ev?: string): unknown;
  close(): void;
}
export interface KurentoModule {
  (url: string, opts?: Record<string, unknown>): KClient;
  getComplexType(name: 'IceCandidate'): (c: { candidate: string; sdpMid: string; sdpMLineIndex: number }) => unknown;
}

/**
 * Calls a kurento-client method in its callback form. Its promise form cannot be trusted: when no
 * callback is given it substitutes a `noop` that console.trace()s the error and the promise then
 * RESOLVES with undefined (a failed processOffer looks like an empty answer).
 */
export function kcall<T>(f: (cb: Cb<T>) => unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      f((err, res) => (err ? reject(err) : resolve(res)));
    } catch (e) {
      reject(e);
    }
  });
}

export { kurento };

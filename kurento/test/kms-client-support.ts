// Helpers for driving the engine with the real kurento-client 7.2.0, as the signaling service does.
// kurento-client keeps its ping state in module globals and logs to the console on reconnects;
// these helpers keep that noise out of test output without changing its behaviour.
/* eslint-disable @typescript-eslint/no-explicit-any */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const kurento: any = require('kurento-client');

import type { ClientPeer } from './media-support';

export type Kms = any;

/**
 * A connected kurento-client. Its reconnect emitter re-emits socket errors (ECONNRESET when the
 * server drops the socket, ECONNREFUSED while it is away) as 'error' events nobody listens to,
 * which would crash the process: whoever uses kurento-client must listen on `client._re`.
 */
export async function connectKms(url: string): Promise<Kms> {
  const client = new kurento.KurentoClient(url, { failAfter: 20, request_timeout: 20000, response_timeout: 20000 });
  client._re.on('error', () => undefined);
  await client;
  return client;
}

export function complexType(name: string): any {
  return kurento.getComplexType(name);
}

/** Quiet console.log/warn/trace while `fn` runs (kurento-client prints on reconnect and for unknown ids). */
export function quietConsole(): () => void {
  const saved = { log: console.log, warn: console.warn, trace: console.trace, error: console.error };
  console.log = () => undefined;
  console.warn = () => undefined;
  console.trace = () => undefined;
  console.error = () => undefined;
  return () => Object.assign(console, saved);
}

/** Resolves with the first event of `type` on `obj` that passes `pick`. */
export function nextEvent(obj: any, type: string, pick: (e: any) => boolean = () => true, timeoutMs = 20000): Promise<any> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { obj.removeListener(type, on); reject(new Error(`no ${type} event within ${timeoutMs} ms`)); }, timeoutMs);
    function on(e: any) {
      if (!pick(e)) return;
      clearTimeout(t);
      obj.removeListener(type, on);
      resolve(e);
    }
    obj.on(type, on);
  });
}

/** Closes a kurento-client and waits for its socket to go away. */
export async function closeKms(client: Kms): Promise<void> {
  if (!client) return;
  client.close();
  // close() disconnects once pending requests are answered; the server must outlive that, or
  // kurento-client's reconnect logic raises ECONNREFUSED as an unhandled 'error'.
  const deadline = Date.now() + 10000;
  while (client._re?.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

/** Offer from a wrtc peer → processOffer → gatherCandidates, candidates trickled both ways. */
export async function negotiateThroughKms(peer: ClientPeer, endpoint: any): Promise<void> {
  const IceCandidate = complexType('IceCandidate');
  endpoint.on('IceCandidateFound', (e: any) => {
    const candidate = { candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex };
    peer.host.call('addCandidate', { peer: peer.id, candidate }).catch(() => undefined);
  });
  peer.host.onCandidate(peer, (c) => { endpoint.addIceCandidate(IceCandidate(c)).catch(() => undefined); });
  const offer = await peer.host.call<string>('createOffer', { peer: peer.id });
  await peer.host.call('setLocal', { peer: peer.id, type: 'offer', sdp: offer });
  const answer = await endpoint.processOffer(offer);
  await peer.host.call('setRemote', { peer: peer.id, type: 'answer', sdp: answer });
  await endpoint.gatherCandidates();
}

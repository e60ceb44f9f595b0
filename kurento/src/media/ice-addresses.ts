// werift gathers a host candidate for every non-loopback interface address plus
// `iceAdditionalHostAddresses`, and binds each of those sockets to `iceInterfaceAddresses` when given.
// With bindAddress 127.0.0.1 that means several sockets all bound to 127.0.0.1 but advertised as the
// machine's LAN addresses: useless candidates and wasted file descriptors. KMS, given a bind address,
// offers candidates for that address only. This patch makes werift's per-connection gathering honour
// that: when a connection was configured with interface addresses, only those addresses are gathered.
//
// werift's ICE also falls back to Google's public STUN server (stun.l.google.com:19302) when none is
// configured. KMS asks no STUN server unless stunServerAddress is set, and an engine must not send
// every endpoint's traffic pattern to a third party by default. Where DNS or that server is out of
// reach, each gathering also waited up to 5 s for it, and a released endpoint's socket and peer with
// it (found by the chaos SDP fuzzer: 100,000 hit-and-run offers took the engine to 3.9 GB).
import { Connection } from 'werift';

let installed = false;

export function installIceAddressFilter(): void {
  if (installed) return;
  installed = true;
  const proto = Connection.prototype as unknown as {
    getCandidatePromises(addresses: string[], timeout?: number): unknown;
  };
  const original = proto.getCandidatePromises;
  if (typeof original !== 'function') return; // werift changed: fall back to its own behaviour
  proto.getCandidatePromises = function (this: { options: { interfaceAddresses?: Record<string, string | undefined>; stunServer?: unknown }; stunServer?: unknown }, addresses: string[], timeout?: number) {
    if (!this.options.stunServer) this.stunServer = undefined; // not werift's Google default
    const wanted = this.options.interfaceAddresses ? Object.values(this.options.interfaceAddresses).filter(Boolean) : [];
    const only = wanted.length ? addresses.filter((a) => wanted.includes(a)) : addresses;
    return original.call(this, only.length ? only : addresses, timeout);
  };
}

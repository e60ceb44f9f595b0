// Translates KMS-style STUN/TURN settings and the bind address into werift's peer configuration.
import type { RTCPeerConnectionConfig, RTCIceServer } from 'werift';
import type { PeerOptions } from './types';

/** KMS turnUrl form: `user:password@address:port[?transport=udp|tcp]`. */
export function parseTurnUrl(turnUrl: string): RTCIceServer | null {
  const m = /^([^:@]+):([^@]*)@([^:?]+|\[[^\]]+\]):(\d+)(\?transport=(udp|tcp))?$/.exec(turnUrl.trim());
  if (!m) return null;
  const [, username, credential, host, port, , transport] = m;
  return { urls: `turn:${host}:${port}${transport ? `?transport=${transport}` : ''}`, username, credential };
}

export function iceConfig(opts: PeerOptions): RTCPeerConnectionConfig {
  const iceServers: RTCIceServer[] = [];
  if (opts.stunServerAddress && opts.stunServerPort) iceServers.push({ urls: `stun:${opts.stunServerAddress}:${opts.stunServerPort}` });
  if (opts.turnUrl) {
    const turn = parseTurnUrl(opts.turnUrl);
    if (turn) iceServers.push(turn);
  }
  const cfg: RTCPeerConnectionConfig = {
    iceServers,
    iceUseIpv4: true,
    iceUseIpv6: false,
    bundlePolicy: 'max-bundle',
  };
  if (opts.portRange) cfg.icePortRange = [opts.portRange.min, opts.portRange.max];
  const bind = opts.bindAddress;
  if (bind && bind !== '0.0.0.0' && bind !== '::') {
    // Bind sockets to that address and gather only it (see ice-addresses.ts).
    cfg.iceInterfaceAddresses = { udp4: bind };
    cfg.iceAdditionalHostAddresses = [bind];
  }
  return cfg;
}

// Reads the real KMS configuration files in kurento/config (the ones docker-compose mounts into
// the Kurento container) so the embedded engine takes the same STUN/TURN and port-range defaults:
// one place configures both media servers.
import fs from 'node:fs';
import path from 'node:path';
import type { EndpointDefaults } from './objects/webrtc-endpoint';

/** kurento/config, from the sources (kurento/src) or from the build (dist/kurento/src). */
export function defaultKmsConfigDir(): string {
  const candidates = [path.resolve(__dirname, '../config'), path.resolve(__dirname, '../../../kurento/config')];
  return candidates.find((d) => fs.existsSync(path.join(d, 'WebRtcEndpoint.conf.ini'))) ?? candidates[0];
}

/** KMS's .conf.ini dialect: `key=value` lines, `;` and `#` comments, optional [sections] (ignored). */
export function parseIni(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith(';') || line.startsWith('#') || line.startsWith('[')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

function readIni(dir: string, file: string): Record<string, string> {
  try {
    return parseIni(fs.readFileSync(path.join(dir, file), 'utf8'));
  } catch {
    return {};
  }
}

/** Endpoint defaults from WebRtcEndpoint.conf.ini and BaseRtpEndpoint.conf.ini (missing files: none). */
export function readKmsConfig(dir: string = defaultKmsConfigDir()): EndpointDefaults {
  const webrtc = readIni(dir, 'WebRtcEndpoint.conf.ini');
  const rtp = readIni(dir, 'BaseRtpEndpoint.conf.ini');
  const out: EndpointDefaults = {};
  if (webrtc.stunServerAddress) out.stunServerAddress = webrtc.stunServerAddress;
  const stunPort = Number(webrtc.stunServerPort);
  if (webrtc.stunServerPort && Number.isInteger(stunPort)) out.stunServerPort = stunPort;
  if (webrtc.turnURL) out.turnUrl = webrtc.turnURL;
  const min = Number(rtp.minPort);
  const max = Number(rtp.maxPort);
  if (rtp.minPort && rtp.maxPort && Number.isInteger(min) && Number.isInteger(max) && min > 0 && max >= min) out.portRange = { min, max };
  return out;
}

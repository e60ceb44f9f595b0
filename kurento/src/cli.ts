// `npm run kms`: the embedded media engine as a standalone server, standing in for a KMS
// container. Endpoint defaults come from kurento/config (the files docker-compose gives KMS);
// STUN_URLS and RTP_MIN_PORT/RTP_MAX_PORT (signaling/src/config.ts) override them.
import { loadConfig } from '../../signaling/src/config';
import { defaultKmsConfigDir } from './kms-config';
import { startMediaServer, type MediaServerOptions } from './index';

/** "stun:host:port" → KMS's stunServerAddress/stunServerPort. */
export function stunFromUrl(url: string): { stunServerAddress: string; stunServerPort: number } | null {
  const m = /^stuns?:(\[[^\]]+\]|[^:?]+)(?::(\d+))?/.exec(url.trim());
  if (!m) return null;
  return { stunServerAddress: m[1].replace(/^\[|\]$/g, ''), stunServerPort: m[2] ? Number(m[2]) : 3478 };
}

export function optionsFromEnv(env: NodeJS.ProcessEnv): MediaServerOptions {
  const port = Number(env.KMS_PORT ?? '8888');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`KMS_PORT must be a port number, got "${env.KMS_PORT}"`);
  const opts: MediaServerOptions = { host: env.KMS_HOST || '127.0.0.1', port, kmsConfigDir: defaultKmsConfigDir() };
  const config = loadConfig(env);
  const stun = config.stunUrls.map(stunFromUrl).find((s) => s !== null);
  if (stun) Object.assign(opts, stun);
  if (config.rtpPortRange) opts.portRange = config.rtpPortRange;
  return opts;
}

async function main(): Promise<void> {
  const server = await startMediaServer(optionsFromEnv(process.env));
  console.log(`media server (Kurento Protocol) listening on ${server.url}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: releasing every media object`);
    server.close().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}

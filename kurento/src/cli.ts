// `npm run kms`: the embedded media engine as a standalone server, standing in for a KMS
// container. Endpoint defaults come from kurento/config (the files docker-compose gives KMS);
// STUN_URLS, RTP_MIN_PORT/RTP_MAX_PORT, ENGINE_WORKERS and ENGINE_NATIVE_SEND override them, KMS_ACCESS_TOKEN requires a shared secret: the same variables, with the same meaning,
// as the signaling service's (signaling/src/config.ts), read here so that the engine stands alone.
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
  // Off unless set, as in KMS; set, clients connect to ws://host:port/kurento?access_token=<it>.
  if (env.KMS_ACCESS_TOKEN) opts.accessToken = env.KMS_ACCESS_TOKEN;
  const stunUrls = (env.STUN_URLS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const stun = stunUrls.map(stunFromUrl).find((s) => s !== null);
  if (stun) Object.assign(opts, stun);
  const range = portRangeFromEnv(env);
  if (range) opts.portRange = range;
  const workers = Number(env.ENGINE_WORKERS || '0');
  if (!Number.isInteger(workers) || workers < 0 || workers > 64) throw new Error(`ENGINE_WORKERS must be 0 to 64, got "${env.ENGINE_WORKERS}"`);
  if (workers > 0) opts.workers = workers;
  // As signaling/src/config.ts reads a boolean.
  const nativeSend = (env.ENGINE_NATIVE_SEND || 'on').trim().toLowerCase();
  if (['0', 'false', 'no', 'off'].includes(nativeSend)) opts.nativeSend = false;
  else if (!['1', 'true', 'yes', 'on'].includes(nativeSend)) throw new Error(`ENGINE_NATIVE_SEND must be on or off, got "${env.ENGINE_NATIVE_SEND}"`);
  return opts;
}

/** RTP_MIN_PORT..RTP_MAX_PORT; both 0 (the default) or an empty range: any free port. */
function portRangeFromEnv(env: NodeJS.ProcessEnv): { min: number; max: number } | null {
  const int = (name: string): number => {
    const s = env[name] || '0';
    const n = Number(s);
    if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, got "${s}"`);
    return n;
  };
  const min = int('RTP_MIN_PORT');
  const max = int('RTP_MAX_PORT');
  return min > 0 && max >= min ? { min, max } : null;
}

async function main(): Promise<void> {
  const server = await startMediaServer(optionsFromEnv(process.env));
  console.log(`media server (Kurento Protocol) listening on ${server.url}; forwarded RTP send path: ${server.sendPath}`);
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

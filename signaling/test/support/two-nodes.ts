// Two signaling nodes on one real Redis and one media engine (started here, on free ports), and the
// wrtc peer host: the setup of every several-nodes test. `close` stops all of it.
import { startMediaServer } from '../../../kurento/src';
import type { MediaServer } from '../../../kurento/src';
import { startRedis, RedisServer } from '../../../test-support/processes';
import { startTestService } from './service';
import { PeerHost } from './peers';
import type { Service } from '../../src/service';

export interface TwoNodes {
  redis: RedisServer;
  engine: MediaServer;
  a: Service;
  b: Service;
  host: PeerHost;
  /** The environment both nodes got (another node joins with it and its own NODE_ID). */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startTwoNodes(o: { prefix: string; ids: [string, string]; presenceTtlMs: number }): Promise<TwoNodes> {
  const redis = await startRedis();
  const engine = await startMediaServer({ port: 0, bindAddress: '127.0.0.1' });
  const env = { REDIS_URL: redis.url, KMS_URLS: engine.url, NODE_PRESENCE_TTL_MS: String(o.presenceTtlMs) };
  const a = await startTestService({ ...env, NODE_ID: o.ids[0] }, { redisPrefix: o.prefix });
  const b = await startTestService({ ...env, NODE_ID: o.ids[1] }, { redisPrefix: o.prefix });
  const host = await PeerHost.start();
  return {
    redis, engine, a, b, host, env,
    close: async () => {
      host.stop();
      await b.close(); await a.close();
      await engine.close(); await redis.stop();
    },
  };
}

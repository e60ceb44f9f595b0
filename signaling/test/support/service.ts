// Starts the whole product in-process on free ports for tests (embedded engine unless KMS_URLS given).
import { loadConfig, Env } from '../../src/config';
import { startService, Service, ServiceOptions } from '../../src/service';
import { StompTestClient, ConnectOptions } from './stomp-client';

export const TEST_SECRET = 'test-secret-'.padEnd(40, 'x');

export async function startTestService(env: Env = {}, opts: ServiceOptions = {}): Promise<Service> {
  const config = loadConfig({
    HOST: '127.0.0.1', PORT: '0', STOMP_TCP_PORT: '0', LOG_LEVEL: 'warn', JWT_SECRET: TEST_SECRET, DEV_TOKENS: 'true',
    PRESENTER_GRACE_MS: '1500', STOMP_HEARTBEAT_MS: '0', ...env,
  });
  return startService(config, opts);
}

export async function devToken(svc: Service, name: string, roles: string[] = []): Promise<string> {
  const res = await fetch(`${svc.url}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, roles }) });
  if (res.status !== 200) throw new Error(`dev token: ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

export async function connect(svc: Service, token?: string, opts: ConnectOptions = {}): Promise<StompTestClient> {
  return StompTestClient.connect(svc.stompUrl, { token, ...opts });
}

/** Pipelines on the media server as the server itself reports them (ServerManager.getPipelines). */
export async function serverPipelines(svc: Service): Promise<string[]> {
  return svc.media.servers[0].serverPipelineIds();
}

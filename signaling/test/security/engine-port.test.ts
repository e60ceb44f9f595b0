// Issue 17 item 6, the service's side: the in-process engine listens on 127.0.0.1 at a port the OS
// picks (EMBEDDED_KMS_PORT=0, the default) and requires a shared secret, random per process unless
// KMS_ACCESS_TOKEN sets one, so other local processes cannot drive it. The service's own
// kurento-client sends it (access_token); logs, metrics and busk records name the URL without it.
import { upgradeStatus } from '../../../kurento/test/raw-rpc-support';
import { startTestService } from '../support/service';
import type { Service } from '../../src/service';

jest.setTimeout(60000);

let svc: Service | undefined;
afterEach(async () => { await svc?.close(); svc = undefined; });

test('the embedded engine refuses a client without the per-process secret; the service itself is connected', async () => {
  svc = await startTestService();
  const engine = svc.engine!;
  expect(engine.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/kurento$/);
  expect(svc.kmsUrls).toEqual([engine.url]);
  expect(svc.media.servers[0].url).toBe(engine.url);
  expect(await upgradeStatus(engine.url)).toBe(401);
  expect(engine.clientUrl).toMatch(/\?access_token=[A-Za-z0-9_-]{32}$/);
  expect((await fetch(`${svc.url}/readyz`)).status).toBe(200);
  expect(svc.media.servers[0].isUp).toBe(true);
});

test('KMS_ACCESS_TOKEN chooses the secret (for tools attached to EMBEDDED_KMS_PORT)', async () => {
  svc = await startTestService({ KMS_ACCESS_TOKEN: 'chosen-engine-secret' });
  expect(svc.engine!.clientUrl).toBe(`${svc.engine!.url}?access_token=chosen-engine-secret`);
  expect(await upgradeStatus(svc.engine!.clientUrl)).toBe(101);
  expect(await upgradeStatus(svc.engine!.url)).toBe(401);
});

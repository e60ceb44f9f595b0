// The chaos runner's fuzzers (test-support/fuzz.ts) at the test suite's size, against the service and
// the engine in their own processes: nothing crashes, nothing hangs, no server error, and what the
// fuzzers created on the engine is gone once they released it. `npm run chaos` runs them at full size.
import { freePort } from '../../../test-support/ports';
import { spawnEngine, spawnService, type ChildService } from '../../../test-support/service-process';
import { engineAnswers, fuzzIce, fuzzRest, fuzzRpc, fuzzSdp, fuzzStomp, RpcClient, stompAnswers } from '../../../test-support/fuzz';
import { TEST_SECRET } from '../support/service';

jest.setTimeout(240000);

let engine: ChildService & { url: string };
let svc: ChildService & { url: string; stompUrl: string };
let tcpPort: number;
const up = () => [engine, svc].every((p) => p.proc.exitCode === null && p.proc.signalCode === null);

beforeAll(async () => {
  engine = await spawnEngine();
  tcpPort = await freePort();
  svc = await spawnService({ KMS_URLS: engine.url, STOMP_TCP_PORT: String(tcpPort), JWT_SECRET: TEST_SECRET, DEV_TOKENS: 'true', LOG_LEVEL: 'error' });
});
afterAll(async () => {
  await svc?.stop();
  await engine?.stop();
});

test('STOMP: 20,000 generated and mutated frames over WebSocket and TCP', async () => {
  const r = await fuzzStomp({ seed: 1, total: 20000, wsUrl: svc.stompUrl, tcpPort, probe: () => stompAnswers(tcpPort) });
  expect(r.sent).toBeGreaterThanOrEqual(20000);
  expect(r.hangs).toBe(0);
  expect(up()).toBe(true);
  expect(await stompAnswers(tcpPort)).toBe(true);
});

test('REST: 2,000 requests with mutated paths, queries, bodies and headers get no 5xx but 503', async () => {
  const r = await fuzzRest({ seed: 2, total: 2000, url: svc.url, probe: () => stompAnswers(tcpPort) });
  expect(r.hangs).toBe(0);
  expect(r.serverErrors).toBe(0);
  expect(up()).toBe(true);
  // What the full run found: a NUL in an id reached PostgreSQL and came back as a 500.
  const nul = await fetch(`${svc.url}/api/shorts/X%00a`);
  expect(nul.status).toBe(400);
  expect(((await nul.json()) as { code: string }).code).toBe('bad-request');
});

test('Kurento JSON-RPC, SDP offers and ICE candidates to the engine; nothing left after the release', async () => {
  const probe = () => engineAnswers(engine.url);
  const rpc = await fuzzRpc({ seed: 3, total: 2000, url: engine.url, probe });
  const sdp = await fuzzSdp({ seed: 4, total: 300, url: engine.url, probe });
  const ice = await fuzzIce({ seed: 5, total: 2000, url: engine.url, probe });
  expect([rpc.hangs, sdp.hangs, ice.hangs]).toEqual([0, 0, 0]);
  // Both outcomes happen: the generators reach the parsers' accepting paths, not only their refusals.
  expect(sdp.answered).toBeGreaterThan(0);
  expect(sdp.refused).toBeGreaterThan(0);
  expect(up()).toBe(true);
  const c = await RpcClient.open(engine.url);
  const pipelines = await c.call('invoke', { object: 'manager_ServerManager', operation: 'getPipelines', operationParams: {} });
  c.close();
  expect((pipelines?.result as { value: unknown[] }).value).toEqual([]);
});

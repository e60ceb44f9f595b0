// Issue 17 item 6: the engine's Kurento port had no authentication and no Origin check, so any
// local process, or any page in the operator's browser, could list and release pipelines; and one
// socket could create 20,000 pipelines that outlived it. Now a browser Origin is refused at the
// upgrade, an optional shared secret (`?access_token=`, kurento-client's `access_token` option) is
// required when set, and live objects are capped per connection and in all (KMS's 40009
// NOT_ENOUGH_RESOURCES). Objects still outlive their connection, as in KMS (session resume).
/* eslint-disable @typescript-eslint/no-explicit-any */
import { startMediaServer, type MediaServer } from '../src';
import { launchChromium } from '../../test-support/browser';
import { connectKms, closeKms, quietConsole } from './kms-client-support';
import { RawRpc, upgradeStatus } from './raw-rpc-support';

jest.setTimeout(60000);

const servers: MediaServer[] = [];
afterAll(async () => { for (const s of servers) await s.close(); });

async function start(opts: Parameters<typeof startMediaServer>[0] = {}): Promise<MediaServer> {
  const s = await startMediaServer({ port: 0, bindAddress: '127.0.0.1', ...opts });
  servers.push(s);
  return s;
}

const createPipeline = (c: RawRpc) => c.request('create', { type: 'MediaPipeline', constructorParams: {}, properties: {} });

describe('who may connect', () => {
  test('a browser Origin is refused at the upgrade, token or not', async () => {
    const s = await start({ accessToken: 'engine-secret' });
    expect(await upgradeStatus(s.url, { Origin: 'http://evil.example' })).toBe(403);
    expect(await upgradeStatus(s.clientUrl, { Origin: 'http://127.0.0.1:8080' })).toBe(403);
    expect(s.stats.sockets).toBe(0);
  });

  test('a page in a real browser cannot open the control socket', async () => {
    const s = await start();
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      // A string, so that the page's own WebSocket is used (not the test's import).
      const outcome = await page.evaluate(`new Promise((resolve) => {
        const ws = new WebSocket(${JSON.stringify(s.url)});
        ws.onopen = () => resolve('open');
        ws.onclose = () => resolve('refused');
      })`);
      expect(outcome).toBe('refused');
      expect(s.stats.sockets).toBe(0);
    } finally {
      await browser.close();
    }
  });

  test('with a shared secret, a client without it (or with another) gets 401', async () => {
    const s = await start({ accessToken: 'engine-secret' });
    expect(s.clientUrl).toBe(`${s.url}?access_token=engine-secret`);
    expect(await upgradeStatus(s.url)).toBe(401);
    expect(await upgradeStatus(`${s.url}?access_token=engine-secreT`)).toBe(401);
    expect(await upgradeStatus(s.clientUrl)).toBe(101);
  });

  test('unmodified kurento-client (no Origin header) connects with its access_token option', async () => {
    const s = await start({ accessToken: 'engine-secret' });
    const restore = quietConsole();
    let kms: any;
    try {
      // connectKms takes a URL; kurento-client's own option appends ?access_token= to it.
      kms = await connectKms(s.clientUrl);
      const pipeline = await kms.create('MediaPipeline');
      expect(s.stats.pipelines).toBe(1);
      await pipeline.release();
    } finally {
      await closeKms(kms);
      restore();
    }
  });

  test('without a secret (KMS\'s default) any non-browser client is served', async () => {
    const s = await start();
    expect(s.clientUrl).toBe(s.url);
    expect(await upgradeStatus(s.url)).toBe(101);
  });
});

describe('object limits', () => {
  test('per connection and in all, answered as KMS answers exhaustion (40009)', async () => {
    const s = await start({ objectLimits: { perConnection: 3, total: 5 } });
    const a = await RawRpc.open(s.url);
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push((await createPipeline(a)).result.value);
    const refused = await createPipeline(a);
    expect(refused.error).toMatchObject({ code: 40009, data: { type: 'NOT_ENOUGH_RESOURCES' } });

    // Releasing (here a pipeline with an endpoint in it) gives the room back.
    const ep = await a.request('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: made[0] }, properties: {} });
    expect(ep.error?.code).toBe(40009);
    await a.call('release', { object: made[0] });
    const ep2 = await a.request('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: made[1] }, properties: {} });
    expect(ep2.result.value).toEqual(expect.any(String));
    // made[1] with its endpoint, made[2]: 3 live objects. Like KMS, they stay after the socket goes.
    await a.close();
    expect(s.stats.objects).toBe(3);

    // A new connection has its own budget, but the engine-wide cap counts what the old one left.
    const b = await RawRpc.open(s.url);
    expect((await createPipeline(b)).result.value).toEqual(expect.any(String));
    expect((await createPipeline(b)).result.value).toEqual(expect.any(String));
    expect((await createPipeline(b)).error).toMatchObject({ code: 40009, message: expect.stringMatching(/Too many media objects \(5\)/) });
    expect(s.stats.objects).toBe(5);
    await b.close();
  });

  test('a transaction is held to the same limit', async () => {
    const s = await start({ objectLimits: { perConnection: 2 } });
    const c = await RawRpc.open(s.url);
    const op = (id: number) => ({ id, jsonrpc: '2.0', method: 'create', params: { type: 'MediaPipeline', constructorParams: {} } });
    const r = await c.call('transaction', { operations: [op(0), op(1), op(2)] });
    expect(r.value.map((x: any) => x.error?.code ?? 'ok')).toEqual(['ok', 'ok', 40009]);
    await c.close();
  });
});

import { startTestService, devToken, connect } from './support/service';
import type { Service } from '../src/service';

jest.setTimeout(60000);

describe('HTTP', () => {
  let svc: Service;
  beforeAll(async () => {
    svc = await startTestService({ STUN_URLS: 'stun:stun.example:3478', TURN_URLS: 'turn:turn.example:3478', TURN_SECRET: 's3cret', TILE_URL: 'https://t/{z}/{x}/{y}.png' });
  });
  afterAll(async () => { await svc.close(); });
  const get = (p: string, headers: Record<string, string> = {}) => fetch(`${svc.url}${p}`, { headers });

  it('health, readiness, config, ice servers', async () => {
    expect((await get('/healthz')).status).toBe(200);
    expect((await (await get('/readyz')).json())).toMatchObject({ ok: true });
    expect(await (await get('/api/config')).json()).toMatchObject({ tileUrl: 'https://t/{z}/{x}/{y}.png', anonymousViewing: true, devTokens: true });
    const ice = (await (await get('/api/ice-servers')).json()) as { urls: string[]; username?: string; credential?: string }[];
    expect(ice[0].urls).toEqual(['stun:stun.example:3478']);
    expect(ice[1]).toMatchObject({ urls: ['turn:turn.example:3478'] });
    expect(ice[1].username).toMatch(/^\d+:guest$/);
    expect(JSON.stringify(ice)).not.toContain('s3cret');
  });

  it('REST filters over live busks', async () => {
    const c = await connect(svc, await devToken(svc, 'Map', ['busker']));
    const c2 = await connect(svc, await devToken(svc, 'Map2', ['busker']));
    const q = await c.subscribeSync('/user/queue/busk');
    const q2 = await c2.subscribeSync('/user/queue/busk');
    await c.request('/app/busk.start', { title: 'Berlin', hashtags: ['jazz'], location: { lat: 52.52, lng: 13.405 } });
    await c2.request('/app/busk.start', { title: 'Nowhere', hashtags: ['folk'] });
    const berlin = (await q.type('started')).buskId;
    const nowhere = (await q2.type('started')).buskId;
    const ids = async (p: string) => ((await (await get(p)).json()) as { id: string }[]).map((b) => b.id);
    expect((await ids('/api/busks')).sort()).toEqual([berlin, nowhere].sort());
    expect(await ids('/api/busks?bbox=13,52,14,53')).toEqual([berlin]);
    expect(await ids('/api/busks?bbox=0,0,1,1')).toEqual([]);
    expect(await ids('/api/busks?near=52.52,13.40&radius=2000')).toEqual([berlin]);
    expect(await ids('/api/busks?tag=folk')).toEqual([nowhere]);
    expect((await get('/api/busks?bbox=1,2,3')).status).toBe(400);
    expect((await get('/api/busks?near=abc,1')).status).toBe(400);
    const one = await (await get(`/api/busks/${berlin}`)).json();
    expect(one).toMatchObject({ id: berlin, title: 'Berlin', owner: { name: 'Map' }, location: { lat: 52.52, lng: 13.405 }, viewers: 0, media: 'connecting' });
    expect(one).not.toHaveProperty('pipelineId');
    expect((await get('/api/busks/nope')).status).toBe(404);
    // hide the pin
    expect(await c.request(`/app/busk.${berlin}.location`, null)).toBe('ok');
    expect(await ids('/api/busks?bbox=13,52,14,53')).toEqual([]);
    await c.close(); await c2.close();
  });

  it('dev tokens, ops endpoint, metrics', async () => {
    const bad = await fetch(`${svc.url}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name": ' });
    expect(bad.status).toBe(400);
    const badRole = await fetch(`${svc.url}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"x","roles":["admin"]}' });
    expect(badRole.status).toBe(400);
    expect((await get('/api/ops/turn')).status).toBe(401);
    expect((await get('/api/ops/turn', { Authorization: `Bearer ${await devToken(svc, 'Nobody')}` })).status).toBe(403);
    expect((await get('/api/ops/turn', { Authorization: `Bearer ${await devToken(svc, 'Op', ['ops'])}` })).status).toBe(404); // monitor off
    const m = await (await get('/metrics')).text();
    for (const name of ['busking_sessions', 'busking_busks', 'busking_viewers', 'busking_media_objects', 'busking_join_seconds_bucket', 'stomp_messages_in_total', 'busking_app_messages_total']) expect(m).toContain(name);
  });
});

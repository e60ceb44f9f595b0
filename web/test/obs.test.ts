// Going live from OBS, as a busker would: the studio's "Go live from OBS" makes a stream key (shown
// once); a WHIP client on a real WebRTC stack (@roamhq/wrtc, as OBS would with its own) publishes
// with it, trickling its candidates by PATCH; a viewer's watch page in Chromium decodes the busk
// over WebRTC; DELETE on the WHIP session ends it and the watch page says so.
import { PeerHost } from '../../signaling/test/support/peers';
import { waitFor } from '../../test-support/ports';
import { expectVideoFlowing, serviceOnDataDir, signInStudio } from './support';

const scene = serviceOnDataDir('web-obs-');
let host: PeerHost;
beforeAll(async () => { host = await PeerHost.start(); });
afterAll(() => host?.stop());

test('a stream key from the studio publishes over WHIP; a browser viewer decodes it; DELETE ends it for the viewer', async () => {
  const { svc, web } = scene;
  const studio = await web.open(await web.context(), '/studio.html');
  await signInStudio(studio, 'Obsidian');
  await studio.getByRole('heading', { name: 'Go live from OBS' }).waitFor();
  expect(await studio.getByLabel('WHIP server address').inputValue()).toBe(`${svc.url}/whip`);
  await studio.getByRole('button', { name: 'Make a stream key' }).click();
  const keyBox = studio.getByLabel('Your stream key');
  await keyBox.waitFor();
  const key = await keyBox.inputValue();
  expect(key).toMatch(/^bsk_/);
  await studio.getByRole('button', { name: 'Rotate the stream key' }).waitFor();

  // The WHIP client: offer, 201 with the answer, candidates by PATCH.
  const presenter = await host.presenter();
  const offer = await presenter.offer();
  const res = await fetch(`${svc.url}/whip?title=${encodeURIComponent('From OBS')}&tags=obs`, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${key}` }, body: offer });
  expect(res.status).toBe(201);
  const session = svc.url + res.headers.get('location');
  const etag = res.headers.get('etag')!;
  const ufrag = /a=ice-ufrag:(\S+)/.exec(offer)![1];
  const pwd = /a=ice-pwd:(\S+)/.exec(offer)![1];
  presenter.onCandidate((c) => {
    if (!c?.candidate) return;
    void fetch(session, { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag', 'if-match': etag }, body: `a=ice-ufrag:${ufrag}\r\na=ice-pwd:${pwd}\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:${c.sdpMid}\r\na=${c.candidate}\r\n` });
  });
  await presenter.answer(await res.text());
  const [busk] = await (await fetch(`${svc.url}/api/busks`)).json() as { id: string; title: string; owner: { name: string } }[];
  expect(busk).toMatchObject({ title: 'From OBS', owner: { name: 'Obsidian' } });

  const viewer = await web.open(await web.context(), `/watch.html?busk=${busk!.id}`);
  await expectVideoFlowing(viewer, 20000);
  await waitFor(async () => (await viewer.getAttribute('#watch-state', 'data-state')) === 'live', 15000, 'the page says live');

  expect((await fetch(session, { method: 'DELETE' })).status).toBe(200);
  await waitFor(async () => (await viewer.getAttribute('#watch-state', 'data-state')) === 'ended', 10000, 'viewer sees ended');
  expect(svc.whip.size).toBe(0);
  presenter.close();
  for (const p of [studio, viewer]) expect(web.pageErrors(p)).toEqual([]);
}, 120000);

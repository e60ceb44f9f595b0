// The live recording with real parts: a @roamhq/wrtc presenter (VP8 + Opus) goes live with
// `record: true` on the service with the embedded engine; the recorder leg (werift, in the service's
// process) writes WebM under DATA_DIR/recordings. Checked: the badge and the viewer count, a presenter
// that drops and comes back within the grace period continues the same recording, the row is 'ready'
// after the end and ffprobe/ffmpeg read and decode the file; then the whole service (a child process)
// is SIGKILLed mid-show and, after a restart, the recording is 'ready' and plays up to the last seconds.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Service } from '../src/service';
import { Clipper } from '../src/shorts/clip';
import { PeerHost } from '../../test-support/wrtc-peers';
import { requireProgram } from '../../test-support/processes';
import { waitFor } from '../../test-support/ports';
import { spawnService, type ChildService } from '../../test-support/service-process';
import { TEST_SECRET, connect, devToken, startTestService } from './support/service';
import { StompTestClient } from './support/stomp-client';
import { negotiate, startBusk } from './support/peers';
import { startMediaServer } from '../../kurento/src';

jest.setTimeout(120000);

const clipper = new Clipper();
let host: PeerHost;
const dirs: string[] = [];

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'record-'));
  dirs.push(d);
  return d;
}

beforeAll(async () => {
  requireProgram('ffprobe', 'ffmpeg');
  host = new PeerHost({ presenter: { width: 320, height: 240, audio: true } });
  await host.ready;
});
afterAll(async () => {
  await host?.stop();
  if (!process.env.KEEP_RECORDINGS) for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

interface Probe { streams: { codec_name: string; width?: number; height?: number }[]; format: { duration?: string } }
function probe(file: string): Probe {
  return JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_name,width,height', '-of', 'json', file], { encoding: 'utf8' }));
}
/** Every packet decodes: ffmpeg stops at the first decoding error (-xerror). */
function decodes(file: string): void {
  execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-xerror', '-i', file, '-f', 'null', '-'], { stdio: ['ignore', 'ignore', 'pipe'] });
}

async function publicBusk(url: string, id: string): Promise<{ recording?: boolean; viewers: number }> {
  const res = await fetch(`${url}/api/busks/${id}`);
  return (await res.json()) as { recording?: boolean; viewers: number };
}

describe('a recorded busk on the service', () => {
  let svc: Service;
  beforeAll(async () => {
    svc = await startTestService({ DATA_DIR: tmpDir(), PRESENTER_GRACE_MS: '20000' });
    await svc.store.db();
  });
  afterAll(async () => { await svc?.close(); });

  test('records VP8 + Opus to WebM through a presenter reconnect; ends ready, playable, not counted as a viewer', async () => {
    const token = await devToken(svc, 'Rita', ['busker']);
    const p1 = await connect(svc, token);
    const first = await startBusk(host, p1, { title: 'Recorded', record: true });
    const id = first.buskId;
    const fan = await connect(svc);
    const topic = await fan.subscribeSync(`/topic/busk.${id}`);

    await waitFor(() => (svc.busks.recording(id)?.seconds ?? 0) >= 3, 30000, '3 s recorded');
    const rec = svc.busks.recording(id)!;
    expect(rec.file.endsWith('.webm')).toBe(true);
    const row = await svc.afterShow.recordings.row(rec.id);
    expect(row).toMatchObject({ busk_id: id, owner_id: expect.any(String), state: 'recording', content_type: 'video/webm' });
    // The badge, and a recorder that is not an audience member.
    expect(await publicBusk(svc.url, id)).toMatchObject({ recording: true, viewers: 0 });

    // The presenter's connection drops; it comes back on a new one within the grace period.
    p1.drop();
    await first.presenter.close();
    await topic.type('media', 10000, (m) => m.state === 'stalled');
    const before = svc.busks.recording(id)!.seconds;
    const p2 = await connect(svc, token);
    const presenter2 = await host.presenter();
    await negotiate(p2, id, presenter2);
    await waitFor(() => (svc.busks.recording(id)?.seconds ?? 0) >= before + 3, 30000, '3 s more after the reconnect');
    expect(svc.busks.recording(id)!.id).toBe(rec.id); // the same recording, the same file

    expect(await p2.request(`/app/busk.${id}.leave`, {})).toBe('ok');
    await topic.type('ended');
    const done = await waitFor(async () => {
      const r = await svc.afterShow.recordings.row(rec.id);
      return r && r.state !== 'recording' ? r : null;
    }, 20000, 'the recording row completed');
    expect(done.state).toBe('ready');
    expect(await svc.afterShow.recordings.mine({ id: done.owner_id, name: 'Rita', roles: [], anonymous: false })).toHaveLength(1);
    const file = svc.afterShow.recordings.path(done);
    const info = probe(file);
    expect(info.streams.map((s) => s.codec_name).sort()).toEqual(['opus', 'vp8']);
    expect(info.streams.find((s) => s.codec_name === 'vp8')).toMatchObject({ width: 320, height: 240 });
    const duration = Number(info.format.duration);
    expect(duration).toBeGreaterThanOrEqual(before + 3 - 1);
    expect(Math.abs(duration - Number(done.duration_s))).toBeLessThan(1);
    decodes(file);

    await presenter2.close();
    await fan.close();
    await p2.close();
    await p1.close().catch(() => undefined);
  });
});

describe('a media server restart mid-show', () => {
  let engine: Awaited<ReturnType<typeof startMediaServer>>;
  let svc: Service;
  beforeAll(async () => {
    engine = await startMediaServer({ port: 0, bindAddress: '127.0.0.1' });
    svc = await startTestService({ KMS_URLS: engine.url, DATA_DIR: tmpDir() });
    await svc.store.db();
  });
  afterAll(async () => { await svc?.close(); await engine?.close(); });

  test('the rebuilt pipeline feeds the same recording; the file plays across the restart', async () => {
    const busker = await connect(svc, await devToken(svc, 'Max', ['busker']));
    const { buskId: id, presenter, inbox } = await startBusk(host, busker, { title: 'Restarted', record: true });
    await waitFor(() => (svc.busks.recording(id)?.seconds ?? 0) >= 3, 30000, '3 s recorded');
    const rec = svc.busks.recording(id)!;
    const port = engine.port;
    await engine.close();
    engine = await startMediaServer({ port, bindAddress: '127.0.0.1' });
    await inbox.type('reoffer', 30000);
    await presenter.close();
    const before = svc.busks.recording(id)!.seconds;
    const presenter2 = await host.presenter();
    await negotiate(busker, id, presenter2);
    await waitFor(() => (svc.busks.recording(id)?.seconds ?? 0) >= before + 3, 30000, '3 s more after the restart');
    expect(svc.busks.recording(id)!.id).toBe(rec.id);
    expect(await busker.request(`/app/busk.${id}.leave`, {})).toBe('ok');
    const done = await waitFor(async () => {
      const r = await svc.afterShow.recordings.row(rec.id);
      return r && r.state !== 'recording' ? r : null;
    }, 20000, 'the recording row completed');
    expect(done.state).toBe('ready');
    const file = svc.afterShow.recordings.path(done);
    expect(Number(probe(file).format.duration)).toBeGreaterThanOrEqual(before + 2);
    decodes(file);
    await presenter2.close();
    await busker.close();
    await waitFor(() => engine.stats.pipelines === 0, 10000, 'nothing left on the media server');
  });
});

describe('the service killed with SIGKILL mid-show', () => {
  const dataDir = tmpDir();
  const env = {
    DATA_DIR: dataDir, NODE_ID: 'rec-node', JWT_SECRET: TEST_SECRET, DEV_TOKENS: 'true', STOMP_HEARTBEAT_MS: '0',
  };
  let child: ChildService | null = null;
  afterAll(() => child?.kill());

  test('leaves a playable recording that the restarted service finishes with its real duration', async () => {
    const killed = await spawnService(env);
    child = killed;
    const url = killed.url;
    const res = await fetch(`${url}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Kim', roles: ['busker'] }) });
    const token = ((await res.json()) as { token: string }).token;
    const busker = await StompTestClient.connect(`${url.replace(/^http/, 'ws')}/stomp`, { token });
    const { presenter } = await startBusk(host, busker, { title: 'Killed', record: true });
    const recDir = path.join(dataDir, 'recordings');
    const file = await waitFor(() => {
      const f = fs.existsSync(recDir) ? fs.readdirSync(recDir).find((n) => n.endsWith('.webm')) : undefined;
      return f ? path.join(recDir, f) : null;
    }, 60000, 'the recording file');
    // At least 4 s in the file (complete fragments), as ffprobe reads it while it is being written.
    await waitFor(async () => (await clipper.duration(file).catch(() => 0)) >= 4, 60000, '4 s in the file', 250)
      .catch((e: Error) => { throw new Error(`${e.message}\n--- service output ---\n${child!.output()}`); });
    const atKill = await clipper.duration(file);
    await child.kill();
    await presenter.close();
    busker.drop();

    // The file as the crash left it plays up to its last complete fragment.
    decodes(file);
    const id = path.basename(file).split('.')[1]!; // <buskId>.<recordingId>.webm
    const svc = await startTestService({ DATA_DIR: dataDir, NODE_ID: 'rec-node' });
    try {
      const row = await waitFor(async () => {
        const r = await svc.afterShow.recordings.row(id);
        return r && r.state !== 'recording' ? r : null;
      }, 30000, 'the recording recovered');
      expect(row.state).toBe('ready');
      expect(Number(row.duration_s)).toBeGreaterThanOrEqual(atKill - 0.5);
      expect(probe(file).streams.map((s) => s.codec_name).sort()).toEqual(['opus', 'vp8']);
      // A short can be cut from it like from any recording.
      const owner = { id: row.owner_id, name: 'Kim', roles: ['busker'], anonymous: false };
      const made = await svc.afterShow.shorts.create(owner, { recordingId: id, startS: 1, endS: 3, title: 'Saved' });
      expect(made.durationS).toBeGreaterThan(1);
    } finally {
      await svc.close();
    }
  });
});


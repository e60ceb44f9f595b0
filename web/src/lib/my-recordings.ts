// The studio's "My recordings": each recording with a thumbnail timeline (frames drawn from the
// recording itself, click one to jump there), a player, and a short form (start/end from the
// player's position, title, hashtags → POST /api/shorts); and, during a recorded show, "Clip the
// last 30 s". Shorts are cut by the service (keyframe-aligned stream copy, docs/PROTOCOL.md).
import { json } from './api';
import type { Short } from './shorts-api';
import { el, errorText, hashtagsOf } from './ui';

export interface Recording {
  id: string; buskId: string; startedAt: string; endedAt: string | null; durationS: number | null;
  state: 'recording' | 'ready' | 'failed'; videoUrl: string;
}

const THUMBS = 8;
export const LIVE_CLIP_S = 30;

export const myRecordings = (token: string) => json<Recording[]>('/api/recordings?mine=1', {}, token);

export function makeShort(body: { recordingId: string; title: string; hashtags: string[] } & ({ startS: number; endS: number } | { lastS: number }), token: string): Promise<Short> {
  return json<Short>('/api/shorts', { method: 'POST', body: JSON.stringify(body) }, token);
}

/** A short of the last 30 s of the busk's running recording. */
export async function clipLive(buskId: string, title: string, hashtags: string[], token: string): Promise<Short> {
  const rec = (await myRecordings(token)).find((r) => r.buskId === buskId && r.state === 'recording');
  if (!rec) throw new Error('this show is not being recorded (yet)');
  // The service knows how far the file has got: it cuts the last 30 s of that.
  return makeShort({ recordingId: rec.id, lastS: LIVE_CLIP_S, title, hashtags }, token);
}

const fmt = (s: number) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;

/** Frames at even steps of the recording, drawn from a hidden player of the same file. */
async function thumbnails(url: string, durationS: number, strip: HTMLElement, seek: (s: number) => void): Promise<void> {
  const v = el('video', { muted: true, preload: 'auto', playsinline: true });
  v.src = url;
  await new Promise<void>((resolve, reject) => { v.onloadeddata = () => resolve(); v.onerror = () => reject(new Error('cannot load')); });
  for (let i = 0; i < THUMBS; i++) {
    const at = (durationS * (i + 0.5)) / THUMBS;
    v.currentTime = at;
    await new Promise<void>((resolve) => { v.onseeked = () => resolve(); });
    const c = el('canvas', { width: 96, height: 54, title: fmt(at), class: 'thumb' });
    c.getContext('2d')?.drawImage(v, 0, 0, 96, 54);
    c.addEventListener('click', () => seek(at));
    strip.append(c);
  }
  v.removeAttribute('src');
  v.load();
}

function item(r: Recording, token: () => string | null, status: HTMLElement): HTMLElement {
  const when = new Date(r.startedAt).toLocaleString();
  const head = el('p', { class: 'meta' }, `${when} · ${r.durationS !== null ? fmt(r.durationS) : r.state === 'recording' ? 'recording now' : r.state}`);
  const li = el('li', { 'data-id': r.id }, head);
  if (r.state !== 'ready' || r.durationS === null) return li;
  const player = el('video', { controls: true, preload: 'metadata', playsinline: true, class: 'rec-player' });
  player.src = r.videoUrl;
  const strip = el('div', { class: 'thumbs', role: 'group', 'aria-label': 'Timeline: click a picture to go there' });
  void thumbnails(r.videoUrl, r.durationS, strip, (s) => { player.currentTime = s; }).catch(() => strip.remove());
  const start = el('input', { type: 'number', min: '0', step: '0.1', value: '0', 'aria-label': 'Start (s)' });
  const end = el('input', { type: 'number', min: '1', step: '0.1', value: String(Math.min(30, Math.floor(r.durationS))), 'aria-label': 'End (s)' });
  const title = el('input', { maxlength: '120', placeholder: 'Title of the short', 'aria-label': 'Title of the short' });
  const tags = el('input', { maxlength: '200', placeholder: 'hashtags', 'aria-label': 'Hashtags of the short' });
  // "here": the player's position becomes the start or the end.
  const here = (input: HTMLInputElement) => {
    const b = el('button', { type: 'button' }, 'here');
    b.addEventListener('click', () => { input.value = player.currentTime.toFixed(1); });
    return b;
  };
  const startHere = here(start);
  const endHere = here(end);
  const publish = el('button', { type: 'submit', class: 'primary' }, 'Publish short');
  const form = el('form', { class: 'short-form' },
    el('label', {}, 'Start ', start, startHere), el('label', {}, 'End ', end, endHere), title, tags, publish);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const t = token();
    if (!t) return;
    publish.disabled = true;
    status.textContent = 'Cutting the short…';
    try {
      const s = await makeShort({ recordingId: r.id, startS: Number(start.value), endS: Number(end.value), title: title.value.trim(), hashtags: hashtagsOf(tags.value) }, t);
      status.replaceChildren('Published: ', el('a', { href: `shorts.html?id=${encodeURIComponent(s.id)}` }, s.title));
    } catch (err) {
      status.textContent = `Could not make the short: ${errorText(err)}`;
    } finally {
      publish.disabled = false;
    }
  });
  li.append(strip, player, form);
  return li;
}

/** Fills `list` with the signed-in busker's recordings, newest first. */
export async function showRecordings(list: HTMLElement, status: HTMLElement, token: () => string | null): Promise<void> {
  const t = token();
  if (!t) { list.replaceChildren(); return; }
  const recs = await myRecordings(t);
  list.replaceChildren(...recs.map((r) => item(r, token, status)));
  if (recs.length === 0) list.append(el('li', { class: 'hint' }, 'Nothing recorded yet: tick “Record this show” before you go live.'));
}

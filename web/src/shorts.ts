// The shorts feed: newest first, or by hashtag (?tag=) or busker (?by=), or one short (?id=). On a
// phone it is a vertical full-screen swipe (CSS scroll snapping); the short in view plays, the
// others pause. Videos are plain files the browser fetches with range requests. Comments open
// under a short, arrive live (/topic/short.{id}.comments) and page back with the cursor.
import { currentIdentity, hasRole } from './lib/auth';
import { showLinkState } from './lib/link-status';
import { addComment, comments, countView, deleteComment, feed, getShort } from './lib/shorts-api';
import type { Comment, CommentEvent, Short } from './lib/shorts-api';
import { Signaling } from './lib/stomp';
import { $, el, errorText, sinceText } from './lib/ui';

const params = new URLSearchParams(location.search);
const tag = params.get('tag')?.replace(/^#/, '').toLowerCase() || undefined;
const by = params.get('by') || undefined;
const only = params.get('id');
const me = currentIdentity();
const signaling = new Signaling({ token: () => currentIdentity()?.token ?? null }).start();
showLinkState(signaling, $('link-state'));

const list = $('feed');
const status = $('feed-state');
let next: string | null = null;
let loading = false;
let done = false;
const viewed = new Set<string>();

$('feed-title').textContent = tag ? `#${tag}` : by ? 'Shorts by this busker' : 'Newest shorts';

function tagLinks(tags: string[]): HTMLElement {
  return el('ul', { class: 'tags' }, ...tags.map((t) => el('li', {}, el('a', { href: `shorts.html?tag=${encodeURIComponent(t)}` }, `#${t}`))));
}

function commentItem(c: Comment, s: Short): HTMLElement {
  const li = el('li', { 'data-id': c.id }, el('a', { href: `/u/${encodeURIComponent(c.from.id)}`, class: 'who' }, c.from.name), ' ', el('span', {}, c.text), ' ', el('time', { datetime: c.at, class: 'meta' }, sinceText(c.at)));
  if (me && (me.id === c.from.id || me.id === s.owner.id || hasRole(me, 'moderator'))) {
    const del = el('button', { type: 'button', class: 'link', 'aria-label': `Delete comment by ${c.from.name}` }, 'Delete');
    del.onclick = () => deleteComment(c.id, me.token).catch((e) => alert(errorText(e)));
    li.append(' ', del);
  }
  return li;
}

/** The comments panel of one short: history with a cursor, live additions and deletions. */
function openComments(s: Short, panel: HTMLElement, counter: HTMLElement): void {
  if (panel.dataset.open) { panel.hidden = !panel.hidden; return; }
  panel.dataset.open = '1';
  panel.hidden = false;
  const ul = el('ul', { class: 'comments', 'aria-live': 'polite' });
  const more = el('button', { type: 'button', class: 'link', hidden: true }, 'Older comments');
  let before: string | null = null;
  const load = async () => {
    const page = await comments(s.id, before);
    for (const c of page.items) if (!ul.querySelector(`[data-id="${c.id}"]`)) ul.append(commentItem(c, s));
    before = page.next;
    more.hidden = !before;
  };
  more.onclick = () => void load();
  signaling.subscribe<CommentEvent>(`/topic/short.${s.id}.comments`, (ev) => {
    if (ev.type === 'comment' && !ul.querySelector(`[data-id="${ev.comment.id}"]`)) {
      ul.prepend(commentItem(ev.comment, s));
      counter.textContent = String(Number(counter.textContent) + 1);
    }
    if (ev.type === 'deleted') {
      const li = ul.querySelector(`[data-id="${ev.id}"]`);
      if (li) { li.remove(); counter.textContent = String(Math.max(0, Number(counter.textContent) - 1)); }
    }
  });
  panel.append(ul, more);
  if (me) {
    const input = el('input', { type: 'text', maxlength: 1000, 'aria-label': 'Your comment', placeholder: 'Say something nice' });
    const err = el('p', { class: 'error', role: 'alert' });
    const form = el('form', { class: 'row' }, input, el('button', { type: 'submit', class: 'primary' }, 'Send'));
    form.onsubmit = (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      addComment(s.id, text, me.token).then(() => { input.value = ''; err.textContent = ''; }, (x) => { err.textContent = errorText(x); });
    };
    panel.append(form, err);
  } else {
    panel.append(el('p', { class: 'hint' }, el('a', { href: 'studio.html' }, 'Sign in'), ' to comment.'));
  }
  void load();
}

function card(s: Short): HTMLElement {
  const video = el('video', { src: s.videoUrl, poster: s.posterUrl, preload: 'metadata', playsinline: true, muted: true, loop: true, controls: true, 'aria-label': s.title });
  const counter = el('span', {}, String(s.comments));
  const panel = el('div', { class: 'comments-panel card', hidden: true });
  const toggle = el('button', { type: 'button', class: 'comments-toggle' }, 'Comments (', counter, ')');
  toggle.onclick = () => openComments(s, panel, counter);
  const views = el('span', { class: 'views' }, `${s.views} views`);
  video.addEventListener('play', () => {
    if (viewed.has(s.id)) return;
    viewed.add(s.id);
    countView(s.id).then((v) => { views.textContent = `${v.views} views`; }, () => undefined);
  });
  return el('article', { class: 'short', 'data-id': s.id },
    video,
    el('div', { class: 'short-info' },
      el('h2', {}, s.title),
      el('p', { class: 'meta' }, el('a', { href: `/u/${encodeURIComponent(s.owner.id)}` }, s.owner.name), ` · ${Math.round(s.durationS)} s · `, views, ` · ${sinceText(s.createdAt)}`),
      tagLinks(s.hashtags),
      toggle),
    panel);
}

// The short in view plays (muted until the viewer unmutes); the others pause.
const visibility = new IntersectionObserver((entries) => {
  for (const e of entries) {
    const v = e.target.querySelector('video');
    if (!v) continue;
    if (e.isIntersecting && e.intersectionRatio >= 0.6) void v.play().catch(() => undefined);
    else v.pause();
  }
}, { threshold: [0, 0.6] });

const endWatch = new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) void loadMore(); });

async function loadMore(): Promise<void> {
  if (loading || done) return;
  loading = true;
  try {
    let items: Short[];
    if (only) {
      items = [await getShort(only)];
      done = true;
    } else {
      const page = await feed({ tag, by, before: next });
      items = page.items;
      next = page.next;
      done = next === null;
    }
    for (const s of items) {
      const c = card(s);
      list.append(c);
      visibility.observe(c);
    }
    endWatch.disconnect();
    if (!done && list.lastElementChild) endWatch.observe(list.lastElementChild);
    status.textContent = list.childElementCount ? '' : tag ? `No shorts tagged #${tag} yet.` : 'No shorts yet.';
  } catch (e) {
    status.textContent = errorText(e);
  } finally {
    loading = false;
  }
}

void loadMore();

// A busker's public profile at /u/{id}: name, bio, avatar, tip link, their shorts, and when they
// are live: Watch and Directions (to the pin). The owner edits it here too.
import { currentIdentity } from './lib/auth';
import { directionsUrl, rememberedPosition } from './lib/geo';
import { feed, getProfile, saveProfile, uploadAvatar } from './lib/shorts-api';
import type { Profile } from './lib/shorts-api';
import { $, el, errorText, show } from './lib/ui';

const id = decodeURIComponent(location.pathname.replace(/^\/u\//, '').replace(/\/.*$/, ''));
const me = currentIdentity();

function render(p: Profile): void {
  document.title = `${p.name} · busking`;
  $('name').textContent = p.name;
  $('bio').textContent = p.bio;
  const avatar = $<HTMLImageElement>('avatar');
  show(avatar, !!p.avatarUrl);
  if (p.avatarUrl) { avatar.src = p.avatarUrl; avatar.alt = `${p.name}'s picture`; }
  const tip = $<HTMLAnchorElement>('tip');
  show(tip, !!p.tipUrl);
  if (p.tipUrl) tip.href = p.tipUrl; // https only (the service refuses anything else)
  show($('live'), !!p.live);
  if (p.live) {
    $('live-title').textContent = p.live.title;
    $<HTMLAnchorElement>('watch').href = `/watch.html?busk=${encodeURIComponent(p.live.id)}`;
    const dir = $<HTMLAnchorElement>('directions');
    show(dir, !!p.live.location);
    if (p.live.location) dir.href = directionsUrl(p.live.location, rememberedPosition());
  }
  $('shorts-count').textContent = p.shorts === 1 ? '1 short' : `${p.shorts} shorts`;
  $<HTMLAnchorElement>('all-shorts').href = `/shorts.html?by=${encodeURIComponent(p.id)}`;
}

async function shorts(): Promise<void> {
  const grid = $('shorts');
  const page = await feed({ by: id, limit: 24 });
  grid.replaceChildren(...page.items.map((s) => el('li', {},
    el('a', { href: `/shorts.html?id=${encodeURIComponent(s.id)}` }, el('img', { src: s.posterUrl, alt: '', loading: 'lazy' }), el('span', {}, s.title)))));
}

function editor(p: Profile): void {
  if (!me || me.id !== p.id) return;
  const form = $<HTMLFormElement>('edit');
  show(form, true);
  const name = $<HTMLInputElement>('edit-name');
  const bio = $<HTMLTextAreaElement>('edit-bio');
  const tip = $<HTMLInputElement>('edit-tip');
  const err = $('edit-error');
  name.value = p.name; bio.value = p.bio; tip.value = p.tipUrl ?? '';
  form.onsubmit = (e) => {
    e.preventDefault();
    saveProfile({ name: name.value, bio: bio.value, tipUrl: tip.value.trim() || null }, me.token)
      .then((np) => { render(np); err.textContent = 'Saved.'; }, (x) => { err.textContent = errorText(x); });
  };
  $<HTMLInputElement>('edit-avatar').onchange = (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) uploadAvatar(f, me.token).then(render, (x) => { err.textContent = errorText(x); });
  };
}

getProfile(id).then((p) => { render(p); editor(p); return shorts(); }).catch((e) => {
  $('name').textContent = 'No such busker';
  $('bio').textContent = errorText(e);
});

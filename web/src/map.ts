// The home page: live busks on a map and in a list, filtered by hashtag or by distance, updated
// live from /topic/busks.
import { getConfig, listBusks } from './lib/api';
import { currentIdentity, signOut } from './lib/auth';
import { createBaseMap } from './lib/basemap';
import { askPosition, distanceMeters, formatDistance, rememberedPosition } from './lib/geo';
import { showLinkState } from './lib/link-status';
import L from './lib/leaflet';
import { BuskPins } from './lib/pins';
import { Signaling } from './lib/stomp';
import type { Busk, BusksEvent, LatLng } from './lib/types';
import { $, announce, el, errorText, sinceText, tagList, viewersText } from './lib/ui';

const busks = new Map<string, Busk>();
let here: LatLng | null = rememberedPosition();
let hereMarker: L.CircleMarker | null = null;
let fittedOnce = false;

const tagInput = $<HTMLInputElement>('tag');
const list = $<HTMLUListElement>('busk-list');
const status = $('list-status');

function tagFilter(): string {
  return tagInput.value.trim().replace(/^#+/, '').toLowerCase();
}

function visible(): Busk[] {
  const tag = tagFilter();
  const shown = [...busks.values()].filter((b) => !tag || b.hashtags.some((t) => t.toLowerCase() === tag));
  const dist = (b: Busk) => (here && b.location ? distanceMeters(here, b.location) : Infinity);
  return shown.sort((a, b) => (here ? dist(a) - dist(b) : 0) || b.viewers - a.viewers || a.title.localeCompare(b.title));
}

function listItem(b: Busk): HTMLLIElement {
  const meta = [b.owner.name, viewersText(b.viewers), sinceText(b.startedAt)];
  if (here && b.location) meta.push(formatDistance(distanceMeters(here, b.location)));
  if (!b.location) meta.push('no pin');
  const item = el('li', { class: 'busk', 'data-busk': b.id },
    el('a', { href: `watch.html?busk=${encodeURIComponent(b.id)}`, class: 'title' }, b.title),
    el('p', { class: 'meta' }, meta.filter(Boolean).join(' · ')),
    tagList(b.hashtags));
  if (b.location) {
    const find = el('button', { type: 'button', class: 'link', 'aria-label': `Show ${b.title} on the map` }, 'Show on map');
    find.addEventListener('click', () => pins.focus(b));
    item.append(find);
  }
  return item;
}

function render(): void {
  const shown = visible();
  pins.show(shown);
  list.replaceChildren(...shown.map(listItem));
  const tag = tagFilter();
  announce(status, shown.length === 0
    ? tag ? `No live busks tagged #${tag}.` : 'Nobody is busking right now. Check back soon, or go live yourself.'
    : `${shown.length} live ${shown.length === 1 ? 'busk' : 'busks'}${tag ? ` tagged #${tag}` : ''}${here ? ', nearest first' : ''}.`);
  const tags = new Set([...busks.values()].flatMap((b) => b.hashtags));
  $('known-tags').replaceChildren(...[...tags].sort().map((t) => el('option', { value: t })));
  if (!fittedOnce && pins.count() > 0 && !here) { fittedOnce = true; pins.fitAll(); }
}

function apply(ev: BusksEvent): void {
  if (ev.type === 'ended') busks.delete(ev.buskId);
  else if (ev.busk?.id) busks.set(ev.busk.id, ev.busk);
  render();
}

async function refresh(): Promise<void> {
  try {
    const all = await listBusks();
    busks.clear();
    for (const b of all) busks.set(b.id, b);
    render();
  } catch (e) {
    announce(status, `Could not load the busks: ${errorText(e)}`);
  }
}

function showHere(): void {
  if (!here) return;
  hereMarker?.remove();
  hereMarker = L.circleMarker([here.lat, here.lng], { radius: 7, color: '#fff', weight: 2, fillColor: '#1a73e8', fillOpacity: 1 })
    .bindTooltip('You are here').addTo(map);
}

const config = await getConfig();
const initialTag = new URLSearchParams(location.search).get('tag');
if (initialTag) tagInput.value = initialTag;
const map = createBaseMap($('map'), { tileUrl: config.tileUrl, center: here ? [here.lat, here.lng] : undefined, zoom: here ? (config.tileUrl ? 14 : 9) : undefined });
const pins = new BuskPins(map, config.tileUrl ? 15 : 8);
showHere();

tagInput.addEventListener('input', () => {
  const url = new URL(location.href);
  if (tagFilter()) url.searchParams.set('tag', tagFilter()); else url.searchParams.delete('tag');
  history.replaceState(null, '', url);
  render();
});
$('filter').addEventListener('submit', (e) => e.preventDefault());

$('near-me').addEventListener('click', async () => {
  announce(status, 'Finding where you are…');
  try {
    here = await askPosition();
    showHere();
    map.setView([here.lat, here.lng], config.tileUrl ? 14 : 9);
    render();
  } catch (e) {
    announce(status, `Near me: ${errorText(e)}.`);
  }
});

const signaling = new Signaling({
  token: () => currentIdentity()?.token ?? null,
  onUnauthorized: () => { signOut(); signaling.reconnect(); }, // watch the map as a guest instead
});
showLinkState(signaling, $('link-state'));
signaling.subscribe<BusksEvent>('/topic/busks', apply);
// After every (re)connect the subscription is live again: fetch the list to catch what was missed.
signaling.onConnect(() => void refresh());
signaling.start();
void refresh();

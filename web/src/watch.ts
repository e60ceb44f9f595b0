// Watching one busk: the video, what it is, how far away it is and how to get there, and its chat.
// The page always says which state it is in: connecting, live, stalled or ended, and which tier it
// plays: WebRTC (real time) while the busk has room and this network lets it connect, else the HLS
// crowd tier (a few seconds behind) when the service makes one.
import { getBusk, getConfig, getIceServers } from './lib/api';
import { currentIdentity, signOut } from './lib/auth';
import { Chat } from './lib/chat';
import { CrowdPlayer } from './lib/crowd';
import { askPosition, directionsUrl, distanceMeters, formatDistance, geoUri, rememberedPosition } from './lib/geo';
import { showLinkState } from './lib/link-status';
import { FlowWatch, type Flow } from './lib/media-health';
import { RequestError, Signaling } from './lib/stomp';
import type { Busk, BuskEvent, LatLng, MediaState } from './lib/types';
import { $, announce, errorText, show, sinceText, tagList, viewersText } from './lib/ui';
import { Viewer } from './lib/webrtc';

type WatchState = 'connecting' | 'live' | 'stalled' | 'ended';
type Tier = 'webrtc' | 'hls';

const TIER_TEXT: Record<Tier, string> = {
  webrtc: 'Real time (WebRTC)',
  hls: 'Crowd tier (HLS): a few seconds behind',
};
/** WebRTC that has not connected by then (no UDP, no TURN, a blocking proxy) gives way to HLS. */
const WEBRTC_CONNECT_MS = 8000;
/** What the page says; `away` is a stall the service confirms: the busker's media stopped. */
type StateText = WatchState | 'away';

const STATE_TEXT: Record<StateText, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  stalled: 'The stream has stalled: waiting for it to come back…',
  away: 'The busker will be right back…',
  ended: 'This show has ended.',
};

const video = $<HTMLVideoElement>('video');
const stateBox = $('watch-state');
const buskId = new URLSearchParams(location.search).get('busk') ?? '';
let state: WatchState | null = null;
let serviceMedia: MediaState | null = null;
let localFlow: Flow = 'waiting';
let viewer: Viewer | null = null;
let watch: FlowWatch | null = null;
let chat: Chat | null = null;
let tier: Tier = 'webrtc';
let crowd: CrowdPlayer | null = null;
let webrtcConnected = false;

function setState(next: WatchState, detail?: string): void {
  if (state === 'ended') return; // final
  state = next;
  document.body.dataset.state = next;
  stateBox.dataset.state = next;
  // The busker's side stopped (a phone in the background, a call): a slate, not a frozen frame.
  const away = next === 'stalled' && serviceMedia === 'stalled';
  show($('slate'), away);
  const text = STATE_TEXT[away ? 'away' : next];
  announce(stateBox, detail ? `${text} ${detail}` : text);
  if (next === 'live') announce($('watch-detail'), '');
  if (next === 'ended') {
    viewer?.close();
    crowd?.close();
    watch?.stop();
    chat?.close();
    video.srcObject = null;
    show(video, false);
    show($('tier'), false);
    show($('unmute'), false);
    $('viewer-count').textContent = '';
    show($('ended-actions'), true);
    void signaling.stop();
  }
}

/** Live when frames are decoding; stalled when they stop, or when the service says media stalled. */
function judge(): void {
  if (state === 'ended') return;
  if (localFlow === 'flowing' && serviceMedia !== 'stalled') setState('live');
  else if (localFlow === 'stalled' || (serviceMedia === 'stalled' && (state === 'live' || state === 'stalled'))) setState('stalled');
}

function describe(b: Busk): void {
  document.title = `${b.title} · busking`;
  $('title').textContent = b.title;
  $('owner').textContent = [b.owner.name, sinceText(b.startedAt)].filter(Boolean).join(' · ');
  $('hashtags').replaceChildren(tagList(b.hashtags));
  $('description').textContent = b.description ?? '';
  $('viewer-count').textContent = viewersText(b.viewers);
  // The busker records this show: viewers are told before they are on it.
  show($('recording-badge'), !!b.recording);
  showPlace(b.location, rememberedPosition());
}

function showPlace(pin: LatLng | null, here: LatLng | null): void {
  show($('where'), !!pin);
  if (!pin) return;
  const directions = $<HTMLAnchorElement>('directions');
  directions.href = directionsUrl(pin, here);
  $<HTMLAnchorElement>('geo-link').href = geoUri(pin);
  $('distance').textContent = here ? formatDistance(distanceMeters(here, pin)) : 'Share your location to see how far it is.';
  show($('how-far'), !here);
}

// ---- video: autoplay with sound when the browser allows it, muted with a button when not -------
async function play(stream?: MediaStream): Promise<void> {
  if (stream && video.srcObject !== stream) video.srcObject = stream;
  if (!$('unmute').hidden) return; // already playing muted: the button stays until tapped
  video.muted = false;
  try {
    await video.play();
  } catch (e) {
    // A new track replaced the source mid-play (AbortError): the next call plays it. Only a
    // refusal to autoplay with sound means falling back to muted.
    if ((e as DOMException).name !== 'NotAllowedError') return;
    video.muted = true;
    await video.play().catch(() => undefined);
    show($('unmute'), true);
  }
}

$('unmute').addEventListener('click', () => {
  video.muted = false;
  void video.play();
  show($('unmute'), false);
});

// ---- self-healing: frames stopped although the busker is sending --------------------------------
// After the busker's connection came back, or a media server hiccup, this viewer's leg may be left
// without decodable video while the service already reports media flowing again. Waiting does not
// help then; a fresh negotiation does.
// The service's word is not waited for: its "stalled" may be stale, and while the busker really is
// away a retry every little while costs little. The wait between retries doubles up to a limit.
const RESCUE_AFTER_MS = 5000;
const RESCUE_FIRST_GAP_MS = 8000;
const RESCUE_MAX_GAP_MS = 30000;
let lastRescue = 0;
let rescueGap = RESCUE_FIRST_GAP_MS;

function rescueIfStuck(): void {
  if (state === 'ended' || !viewer || !watch || signaling.state !== 'online') return;
  if (localFlow === 'flowing') { rescueGap = RESCUE_FIRST_GAP_MS; return; }
  if (watch.msSinceProgress() < RESCUE_AFTER_MS || Date.now() - lastRescue < rescueGap) return;
  if (lastRescue) rescueGap = Math.min(rescueGap * 2, RESCUE_MAX_GAP_MS);
  lastRescue = Date.now();
  announce($('watch-detail'), 'Reconnecting the video…');
  watch.reset();
  viewer.negotiate().catch((e) => announce($('watch-detail'), `Could not reconnect the video: ${errorText(e)}`));
}

// ---- the tiers ------------------------------------------------------------------------------------
function showTier(t: Tier): void {
  tier = t;
  video.dataset.tier = t;
  const box = $('tier');
  box.dataset.tier = t;
  box.textContent = TIER_TEXT[t];
  show(box, true);
}

/**
 * Leaves the WebRTC leg for the busk's HLS playlist. False when there is none to go to: the service
 * runs no crowd tier, the busker's codec cannot be packaged (VP8), or this browser plays no HLS.
 */
async function moveToCrowd(why: string): Promise<boolean> {
  if (tier === 'hls') return true;
  if (state === 'ended') return false;
  // Asked afresh: the tier is withdrawn when the presenter's codec turns out unsuitable.
  const busk = await getBusk(buskId).catch(() => undefined);
  if (!busk?.hls || !CrowdPlayer.supported(video) || tier !== 'webrtc' || state === 'ended') return false;
  showTier('hls');
  viewer?.close();
  viewer = null;
  // Whatever the WebRTC leg got to on the service goes now, not when its session ends.
  if (signaling.state === 'online') signaling.send(`/app/busk.${buskId}.leave`, {});
  video.srcObject = null;
  watch?.reset();
  announce($('watch-detail'), why);
  crowd = new CrowdPlayer(video, busk.hls, {
    ended: () => setState('ended'),
    error: (m) => announce($('watch-detail'), m),
  });
  try {
    await crowd.start();
  } catch (e) {
    announce($('watch-detail'), `Could not start the HLS player: ${errorText(e)}`);
    return true;
  }
  void play();
  return true;
}

/** WebRTC could not get through: HLS when there is one, else the reason stays on the page. */
async function webrtcFailed(reason: string): Promise<void> {
  if (webrtcConnected || tier !== 'webrtc' || state === 'ended') return;
  if (!(await moveToCrowd(`${reason}: watching the crowd tier (HLS) instead, a few seconds behind.`))) {
    announce($('watch-detail'), `${reason}.`);
  }
}

// ---- start ------------------------------------------------------------------------------------
const signaling = new Signaling({
  token: () => currentIdentity()?.token ?? null,
  onUnauthorized: () => { signOut(); signaling.reconnect(); }, // watch as a guest instead
});
showLinkState(signaling, $('link-state'));

async function main(): Promise<void> {
  setState('connecting');
  if (!buskId) { setState('ended', 'No show was chosen: pick one on the map.'); return; }
  const busk = await getBusk(buskId).catch(() => undefined);
  if (busk === null) { setState('ended'); return; }
  if (busk) { describe(busk); serviceMedia = busk.media; }

  $('how-far').addEventListener('click', async () => {
    try {
      const here = await askPosition();
      const b = await getBusk(buskId).catch(() => busk);
      showPlace(b?.location ?? null, here);
    } catch (e) {
      $('distance').textContent = `Distance unknown: ${errorText(e)}.`;
    }
  });

  const iceServers = await getIceServers();
  signaling.subscribe<BuskEvent>(`/topic/busk.${buskId}`, (ev) => {
    if (ev.type === 'viewers') $('viewer-count').textContent = viewersText(ev.count);
    else if (ev.type === 'media') { serviceMedia = ev.state; judge(); }
    else if (ev.type === 'ended') setState('ended');
  });
  viewer = new Viewer({
    signaling, buskId, iceServers,
    onState: (s) => {
      video.dataset.peer = s;
      if (s === 'connected') webrtcConnected = true;
      else if (s === 'failed') void webrtcFailed('Real-time video could not connect on this network');
    },
    onError: (e) => announce($('watch-detail'), `Media: ${e.message}`),
  }, (stream) => void play(stream));
  watch = new FlowWatch(() => (tier === 'hls' ? video : viewer?.pc ?? null), 'in', (s) => {
    localFlow = s.flow;
    video.dataset.framesDecoded = String(s.counter);
    video.dataset.sampledAt = String(Date.now());
    video.dataset.flow = s.flow;
    judge();
    rescueIfStuck();
  });
  const me = currentIdentity();
  const config = await getConfig();
  chat = new Chat($('chat'), { signaling, buskId, myName: me?.name ?? null, myId: me?.id ?? null, maxLength: config.chat?.maxLength });

  // First connect and every reconnect: (re)offer. After a drop the service has released this
  // session's endpoint, so a new negotiation is needed either way.
  signaling.onConnect(async (again) => {
    if (state === 'ended' || tier === 'hls') return; // the HLS tier needs no media session
    if (again) { setState(state === 'live' ? 'stalled' : 'connecting'); watch?.reset(); }
    try {
      await viewer!.negotiate();
    } catch (e) {
      if (e instanceof RequestError && e.code === 'not-found') setState('ended');
      else if (e instanceof RequestError && e.code === 'full') {
        if (!(await moveToCrowd('Real-time video is full for this show: watching the crowd tier (HLS), a few seconds behind.'))) {
          announce($('watch-detail'), 'This show is full: try again in a little while.');
        }
      } else if (!webrtcConnected && !(e instanceof RequestError)) void webrtcFailed(`Real-time video is not available here (${errorText(e)})`);
      else announce($('watch-detail'), `Could not connect: ${errorText(e)}`);
    }
  });
  showTier('webrtc');
  // Counted from here, not from the first offer: a network that blocks WebSockets never offers.
  setTimeout(() => void webrtcFailed('Real-time video did not connect'), WEBRTC_CONNECT_MS);
  signaling.start();
}

window.addEventListener('pagehide', () => {
  if (state !== 'ended' && tier === 'webrtc' && buskId) signaling.send(`/app/busk.${buskId}.leave`, {});
});

void main();

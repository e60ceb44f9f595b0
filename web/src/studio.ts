// The busker's studio: sign in, camera preview and device choice, show details, where the pin
// goes (if anywhere), go live / end, and what happens on air (viewers, media health, chat).
// Phone-first: the screen is kept awake while live, the front/rear camera switches without a new
// offer, the show survives the page going to the background and the network changing, and a
// "save data" option caps what a busker on mobile data sends.
import { getConfig, getIceServers } from './lib/api';
import { currentIdentity, hasRole, signOut, type Identity } from './lib/auth';
import { createBaseMap } from './lib/basemap';
import { Broadcast, type OnAirState } from './lib/broadcast';
import { Camera } from './lib/camera';
import { Chat } from './lib/chat';
import { askPosition } from './lib/geo';
import L from './lib/leaflet';
import { showLinkState } from './lib/link-status';
import type { Flow } from './lib/media-health';
import { connectionInfo, watchNetwork } from './lib/network-watch';
import { mountSignIn } from './lib/signin';
import { Signaling } from './lib/stomp';
import { TokenKeeper } from './lib/token-keeper';
import type { LatLng, MediaState } from './lib/types';
import { $, announce, el, errorText, hashtagsOf, show, viewersText } from './lib/ui';
import { ScreenWake, type WakeState } from './lib/wake-lock';
import { clipLive, LIVE_CLIP_S, showRecordings } from './lib/my-recordings';
import { mountStreamKey } from './lib/stream-key';
import { LevelMeter } from './lib/level-meter';
import { SelfMonitor } from './lib/self-monitor';
import { loadSound, saveSound, type SoundMode } from './lib/sound';

const config = await getConfig();
const camera = new Camera();
let sound = loadSound();
camera.soundMode = sound.mode;
let identity: Identity | null = null;
let broadcast: Broadcast | null = null;
let chat: Chat | null = null;
let pin: LatLng | null = null;

const preview = $<HTMLVideoElement>('preview');
const cameraSelect = $<HTMLSelectElement>('camera');
const micSelect = $<HTMLSelectElement>('microphone');
const cameraError = $('camera-error');
const form = $<HTMLFormElement>('details');
const goLive = $<HTMLButtonElement>('go-live');
const endButton = $<HTMLButtonElement>('end');
const buskState = $('busk-state');
const whereStatus = $('where-status');
const formError = $('details-error');

// ---- connection -------------------------------------------------------------------------------
const signaling = new Signaling({
  token: () => identity?.token ?? null,
  onUnauthorized: () => {
    // The token expired (no fresh one came in time) or was revoked: ask for a new sign-in rather
    // than retrying forever.
    keeper.watch(null);
    signOut();
    identity = mountSignIn($('signin'), signInOptions);
    announce(buskState, 'Your sign-in expired: please sign in again.');
  },
});
showLinkState(signaling, $('link-state'));

// ---- token refresh: a show outlives its token (see lib/token-keeper.ts) ------------------------
const keeper = new TokenKeeper({
  signaling,
  devTokens: config.devTokens,
  warning: $('token-warning'),
  onIdentity: (id) => { identity = id; }, // same user: nothing else on the page changes
});

// ---- sign in ----------------------------------------------------------------------------------
const obs = mountStreamKey($('obs'), () => (hasRole(identity, 'busker') ? identity?.token ?? null : null));
const signInOptions = {
  role: 'busker',
  devTokens: config.devTokens,
  onChange: (id: Identity | null) => {
    identity = id;
    keeper.watch(id);
    updateControls();
    if (id) signaling.reconnect();
    void refreshRecordings();
    void obs.refresh();
  },
};
identity = mountSignIn($('signin'), signInOptions);
keeper.watch(identity);
signaling.start();

// ---- camera -----------------------------------------------------------------------------------
function fillSelect(select: HTMLSelectElement, devices: MediaDeviceInfo[], current: string, fallback: string): void {
  select.replaceChildren(...devices.map((d, i) => el('option', { value: d.deviceId, selected: d.deviceId === current }, d.label || `${fallback} ${i + 1}`)));
  select.disabled = devices.length < 2 && !broadcast;
}

/** Shows a (new) camera stream: preview, mirroring, device lists; a live show sends it at once. */
async function useStream(stream: MediaStream): Promise<void> {
  preview.srcObject = stream;
  preview.classList.toggle('mirrored', camera.mirrored);
  meter.attach(stream);
  await preview.play().catch(() => undefined);
  // The browser may stop a track (the page in the background, another app took the camera):
  // restart it at once if the page is visible, else when it is again.
  for (const t of stream.getTracks()) t.addEventListener('ended', () => { if (document.visibilityState === 'visible') void recoverCamera(); });
  const { cameras, microphones } = await camera.devices();
  fillSelect(cameraSelect, cameras, camera.currentId('video'), 'Camera');
  fillSelect(micSelect, microphones, camera.currentId('audio'), 'Microphone');
  $('start-camera').textContent = 'Restart camera';
  show($('switch-camera'), true);
  await broadcast?.useStream(stream);
}

async function openCamera(): Promise<void> {
  cameraError.textContent = '';
  try {
    await useStream(await camera.open(cameraSelect.value || undefined, micSelect.value || undefined));
  } catch (e) {
    cameraError.textContent = `Camera or microphone unavailable: ${errorText(e)}`;
  }
  updateControls();
}

let switching = false;
async function switchCamera(): Promise<void> {
  if (switching) return;
  switching = true;
  cameraError.textContent = '';
  try {
    await useStream(await camera.switchFacing());
  } catch (e) {
    cameraError.textContent = `Could not switch the camera: ${errorText(e)}`;
    await recoverCamera(); // the old camera was stopped first: bring it back
  } finally {
    switching = false;
  }
}

let recovering: Promise<void> | null = null;
/** Reopens the tracks the browser stopped; the live show takes them on the same leg. */
function recoverCamera(): Promise<void> {
  if (recovering || !camera.stopped) return recovering ?? Promise.resolve();
  recovering = camera.restart().then(useStream, (e) => {
    cameraError.textContent = `The camera stopped and could not restart: ${errorText(e)}. Press “Restart camera”.`;
  }).finally(() => { recovering = null; });
  return recovering;
}

$('start-camera').addEventListener('click', () => void openCamera());
$('switch-camera').addEventListener('click', () => void switchCamera());
cameraSelect.addEventListener('change', () => void openCamera());
micSelect.addEventListener('change', () => void openCamera());

// The phone turned: ask the camera for the other shape (viewers get portrait or landscape, upright).
matchMedia('(orientation: portrait)').addEventListener('change', async () => {
  await camera.fitOrientation();
  await broadcast?.reapplyLimits();
});

// ---- sound: mode, bitrate, input level -----------------------------------------------------------
const soundMode = $<HTMLSelectElement>('sound-mode');
const soundBitrate = $<HTMLSelectElement>('sound-bitrate');
const SOUND_HINT: Record<SoundMode, string> = {
  'music-headphones': 'Stereo, no speech processing: for instruments with headphones, a mixer or line-in.',
  'music-speaker': 'Stereo with echo cancellation: for a speaker near the microphone.',
  voice: 'The browser’s speech processing (echo, noise, gain): for talking.',
};
function showSound(): void {
  soundMode.value = sound.mode;
  soundBitrate.value = String(sound.bitrateKbps);
  soundBitrate.disabled = sound.mode === 'voice' || !!broadcast;
  soundMode.disabled = !!broadcast; // chosen at go-live: its Opus parameters are in the show's offers
  $('sound-hint').textContent = SOUND_HINT[sound.mode];
  document.body.dataset.sound = sound.mode;
}
soundMode.addEventListener('change', () => {
  sound = { ...sound, mode: soundMode.value as SoundMode };
  saveSound(sound);
  camera.soundMode = sound.mode;
  showSound();
  if (camera.stream) void openCamera(); // the capture changes with the mode
});
soundBitrate.addEventListener('change', () => {
  sound = { ...sound, bitrateKbps: Number(soundBitrate.value) };
  saveSound(sound);
});

const level = $<HTMLMeterElement>('input-level');
const meter = new LevelMeter((r) => {
  level.value = r.peakDb;
  level.dataset.channels = String(r.channels);
  $('input-db').textContent = `${Math.round(r.peakDb)} dB`;
  const clip = $('clipping');
  if (clip.hidden === r.clipping) show(clip, r.clipping);
});

// ---- save data: for buskers on mobile data ----------------------------------------------------
const SAVE_DATA_KEY = 'busking.saveData';
const saveData = $<HTMLInputElement>('save-data');
saveData.checked = (localStorage.getItem(SAVE_DATA_KEY) ?? String(!!connectionInfo()?.saveData)) === 'true';
saveData.addEventListener('change', () => {
  localStorage.setItem(SAVE_DATA_KEY, String(saveData.checked));
  void broadcast?.setSaveData(saveData.checked);
});

/** The live uplink from getStats: what the phone is really sending, e.g. "650 kbps · 480p (save data)". */
function showUplink(bitsPerSecond: number, sentLines?: number): void {
  const kbps = Math.round(bitsPerSecond / 1000);
  const uplink = $('uplink');
  const rate = kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbps` : `${kbps} kbps`;
  uplink.textContent = `${rate}${sentLines ? ` · ${sentLines}p` : ''}${saveData.checked ? ' (save data)' : ''}`;
  uplink.dataset.kbps = String(kbps);
  uplink.dataset.lines = String(sentLines ?? '');
}

// ---- the page in the background, and back --------------------------------------------------------
// Hidden: nothing to do; the service keeps the show (PRESENTER_GRACE_MS if the phone drops the
// connection too) and viewers see "right back" from the media state. Visible again: restart what the
// browser stopped, then let the show continue on the same leg when it is still up.
document.addEventListener('visibilitychange', async () => {
  if (document.visibilityState !== 'visible' || !broadcast) return;
  await recoverCamera();
  await broadcast?.resume();
});

// ---- screen wake lock while live ----------------------------------------------------------------
const WAKE_TEXT: Record<WakeState, string> = {
  held: 'The screen stays on while you are live.',
  released: '',
  unsupported: 'This browser cannot keep the screen on: do not let the phone lock while you are live, or the camera stops.',
  refused: 'The screen could not be kept on: do not let the phone lock while you are live.',
};
const wake = new ScreenWake((s) => {
  const box = $('wake-state');
  box.dataset.state = s;
  // A lock the browser dropped (page hidden) is asked for again on return; only say so while live.
  box.textContent = s === 'released' && broadcast ? 'Screen lock allowed again: come back to the page to keep it on.' : WAKE_TEXT[s];
});
let stopNetworkWatch: (() => void) | null = null;

// ---- location ---------------------------------------------------------------------------------
const pinMap = createBaseMap($('pin-map'), { tileUrl: config.tileUrl });
let pinMarker: L.Marker | null = null;

function whereChoice(): 'none' | 'gps' | 'map' {
  return (form.elements.namedItem('where') as RadioNodeList).value as 'none' | 'gps' | 'map';
}

function setPin(at: LatLng | null, how: string): void {
  pin = at;
  pinMarker?.remove();
  pinMarker = null;
  if (at) {
    pinMarker = L.marker([at.lat, at.lng], {
      draggable: true, keyboard: true, title: 'Your pin', alt: 'Your pin',
      icon: L.divIcon({ className: 'pin mine', html: el('span', { class: 'pin-dot', 'aria-hidden': 'true' }), iconSize: [28, 28], iconAnchor: [14, 28] }),
    }).addTo(pinMap);
    pinMarker.on('dragend', () => { const p = pinMarker!.getLatLng(); setPin({ lat: p.lat, lng: p.lng }, 'Pin moved'); });
  }
  announce(whereStatus, at ? `${how}: ${at.lat.toFixed(5)}, ${at.lng.toFixed(5)}${at.accuracy ? ` (±${at.accuracy} m)` : ''}.` : 'No pin: your show is listed without a place.');
  broadcast?.moveTo(at).catch((e) => announce(whereStatus, `Could not move the pin: ${errorText(e)}`));
}

async function useMyLocation(): Promise<void> {
  announce(whereStatus, 'Asking your browser where you are…');
  try {
    const here = await askPosition();
    pinMap.setView([here.lat, here.lng], config.tileUrl ? 16 : 9);
    setPin(here, 'Pin at your location');
  } catch (e) {
    announce(whereStatus, `Could not use your location: ${errorText(e)}. You can place the pin on the map instead.`);
  }
}

for (const radio of form.querySelectorAll<HTMLInputElement>('input[name="where"]')) {
  radio.addEventListener('change', () => {
    const choice = whereChoice();
    show($('pin-tools'), choice === 'map');
    if (choice === 'none') setPin(null, '');
    else if (choice === 'gps') void useMyLocation(); // only now, after the busker chose it
    else { pinMap.invalidateSize(); announce(whereStatus, 'Click or tap the map where you are playing, or use “Pin at map centre”.'); }
  });
}
pinMap.on('click', (e: L.LeafletMouseEvent) => {
  if (whereChoice() !== 'map') return;
  setPin({ lat: e.latlng.lat, lng: e.latlng.lng }, 'Pin placed');
});
$('pin-centre').addEventListener('click', () => {
  const c = pinMap.getCenter();
  setPin({ lat: c.lat, lng: c.lng }, 'Pin placed at the map centre');
});

// ---- on air -----------------------------------------------------------------------------------
const STATE_TEXT: Record<OnAirState, string> = {
  starting: 'Going live…',
  live: 'You are live',
  recovering: 'Reconnecting: your show continues',
  ended: 'Show ended',
};

function onAir(state: OnAirState, detail?: string): void {
  document.body.dataset.onAir = state;
  buskState.dataset.state = state;
  announce(buskState, detail && state !== 'live' ? `${STATE_TEXT[state]} (${detail})` : STATE_TEXT[state]);
  if (state === 'live') {
    void wake.hold();
    // Wi-Fi to mobile data and back, or the network returning: an ICE restart at once.
    stopNetworkWatch ??= watchNetwork((why) => { if (why !== 'offline') void broadcast?.networkChanged(); });
  }
  show($('self-monitor'), (state === 'live' || state === 'recovering') && !!broadcast);
  if (state === 'ended') {
    stopSelfMonitor();
    show($('clip-live'), false);
    // The recording's row is finished a moment after the show: list it then.
    setTimeout(() => { void refreshRecordings(); }, 2000);
    chat?.close();
    broadcast = null;
    $('viewer-count').textContent = '—';
    $('uplink').textContent = '—';
    stopNetworkWatch?.();
    stopNetworkWatch = null;
    void wake.release();
  }
  updateControls();
}

function mediaHealth(service: MediaState | null, local: Flow): void {
  // The service's word wins when it has one: it sees whether media reaches the media server.
  const s = service === 'flowing' || service === 'stalled' ? service : local;
  const text = s === 'flowing' ? 'Flowing' : s === 'stalled' ? 'Stalled' : 'Connecting';
  const health = $('media-health');
  health.textContent = text;
  health.dataset.state = s;
}

function updateControls(): void {
  const onAirNow = !!broadcast;
  const canBusk = hasRole(identity, 'busker');
  goLive.disabled = onAirNow || !canBusk;
  show(goLive, !onAirNow);
  show(endButton, onAirNow);
  for (const id of ['title', 'hashtags', 'description']) $<HTMLInputElement>(id).readOnly = onAirNow;
  $<HTMLInputElement>('record').disabled = onAirNow; // chosen at go-live, for the whole show
  showSound();
  $('go-live-hint').textContent = canBusk ? '' : 'Sign in as a busker to go live.';
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  formError.textContent = '';
  if (!identity) { formError.textContent = 'Sign in first.'; return; }
  const title = $<HTMLInputElement>('title').value.trim();
  if (!title) { formError.textContent = 'Give your show a title.'; $('title').focus(); return; }
  if (whereChoice() !== 'none' && !pin) { formError.textContent = 'Place your pin first, or choose “No pin”.'; return; }
  if (!camera.stream) await openCamera();
  if (!camera.stream) { formError.textContent = 'The camera is needed to go live.'; return; }
  const iceServers = await getIceServers();
  const b = new Broadcast(signaling, iceServers, {
    state: onAir,
    viewers: (n) => { $('viewer-count').textContent = viewersText(n); },
    media: mediaHealth,
    peer: (s) => { $('peer-state').textContent = s; },
    uplink: showUplink,
  }, sound);
  await b.setSaveData(saveData.checked);
  broadcast = b;
  updateControls();
  try {
    const id = await b.start({
      title,
      description: $<HTMLTextAreaElement>('description').value.trim(),
      hashtags: hashtagsOf($<HTMLInputElement>('hashtags').value),
      location: whereChoice() === 'none' ? null : pin,
      record: $<HTMLInputElement>('record').checked,
      crowdTier: !!config.hls,
    }, camera.stream);
    liveShow = { id, title, hashtags: hashtagsOf($<HTMLInputElement>('hashtags').value) };
    show($('clip-live'), $<HTMLInputElement>('record').checked);
    const link = $<HTMLAnchorElement>('watch-link');
    link.href = `watch.html?busk=${encodeURIComponent(id)}`;
    show(link, true);
    $('viewer-count').textContent = viewersText(0);
    chat = new Chat($('chat'), { signaling, buskId: id, myName: identity.name, myId: identity.id, maxLength: config.chat?.maxLength });
    show($('chat'), true);
  } catch (err) {
    broadcast = null;
    formError.textContent = `Could not go live: ${errorText(err)}`;
    onAir('ended', errorText(err));
  }
});

// ---- hear yourself as viewers do: a loopback viewer leg through the media server ------------------
const selfMonitor = new SelfMonitor($<HTMLAudioElement>('self-monitor-audio'), (s) => {
  $('self-monitor-state').textContent = s === 'connected' ? 'Listening to what viewers hear (put headphones on).' : s === 'failed' ? 'Could not connect the check.' : s === 'closed' ? '' : 'Connecting…';
  $('self-monitor').dataset.peer = s;
});
function stopSelfMonitor(): void {
  selfMonitor.stop();
  $('self-monitor').setAttribute('aria-pressed', 'false');
  $('self-monitor').textContent = 'Hear yourself as viewers do';
  $('self-monitor-state').textContent = '';
}
$('self-monitor').addEventListener('click', async () => {
  if (selfMonitor.running) { stopSelfMonitor(); return; }
  if (!broadcast?.buskId) return;
  selfMonitor.start(broadcast.buskId, await getIceServers());
  $('self-monitor').setAttribute('aria-pressed', 'true');
  $('self-monitor').textContent = 'Stop listening';
});

endButton.addEventListener('click', async () => {
  endButton.disabled = true;
  await broadcast?.end();
  endButton.disabled = false;
});

window.addEventListener('pagehide', () => { void broadcast?.end(); });
updateControls();

// ---- my recordings and shorts ------------------------------------------------------------------
let liveShow: { id: string; title: string; hashtags: string[] } | null = null;
const clipStatus = $('clip-status');

async function refreshRecordings(): Promise<void> {
  try {
    await showRecordings($('recordings-list'), clipStatus, () => identity?.token ?? null);
  } catch (err) {
    clipStatus.textContent = `Could not list your recordings: ${errorText(err)}`;
  }
}

$('recordings-refresh').addEventListener('click', () => { void refreshRecordings(); });
$('clip-live').addEventListener('click', async () => {
  const t = identity?.token;
  if (!t || !liveShow) return;
  const button = $<HTMLButtonElement>('clip-live');
  button.disabled = true;
  clipStatus.textContent = `Cutting the last ${LIVE_CLIP_S} s…`;
  try {
    const s = await clipLive(liveShow.id, `${liveShow.title} (live)`, liveShow.hashtags, t);
    clipStatus.replaceChildren('Published: ', el('a', { href: `shorts.html?id=${encodeURIComponent(s.id)}`, target: '_blank' }, s.title));
  } catch (err) {
    clipStatus.textContent = `Could not clip: ${errorText(err)}`;
  } finally {
    button.disabled = false;
  }
});
void refreshRecordings();
void obs.refresh();

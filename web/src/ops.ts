// Operations: the TURN relays (coturn sessions, relayed traffic, authentication failures) from the
// monitor's snapshot and its live events, and the signaling service's own figures from /metrics.
import { getConfig, metricsText, opsHistory, opsTurnSnapshot } from './lib/api';
import { hasRole, signOut, type Identity } from './lib/auth';
import { showLinkState } from './lib/link-status';
import { parseMetrics, serviceFigures } from './lib/metrics';
import { mountSignIn } from './lib/signin';
import { Signaling } from './lib/stomp';
import { renderTurnEvent, renderTurnSnapshot } from './lib/turn-view';
import { followWidth, renderHistory, type OpsHistory } from './lib/ops-history';
import { $, announce, el, errorText } from './lib/ui';

const REFRESH_MS = 5000;
const KEEP_EVENTS = 100;

const config = await getConfig();
let identity: Identity | null = null;
let timer: ReturnType<typeof setInterval> | null = null;

const signaling = new Signaling({
  token: () => identity?.token ?? null,
  onUnauthorized: () => { signOut(); followWidth($('ops-charts'));
identity = mountSignIn($('signin'), signInOptions); stop(); },
});
showLinkState(signaling, $('link-state'));
signaling.subscribe<Record<string, unknown>>('/topic/ops.turn', (ev) => {
  const log = $('turn-events');
  log.prepend(renderTurnEvent(ev));
  while (log.children.length > KEEP_EVENTS) log.lastElementChild!.remove();
  void refreshTurn(); // the snapshot holds the totals the event changed
});

async function refreshTurn(): Promise<void> {
  if (!identity) return;
  try {
    renderTurnSnapshot(await opsTurnSnapshot(identity.token), {
      figures: $('turn-figures'), diagnoses: $('turn-diagnoses'),
      sessions: $<HTMLTableElement>('turn-sessions'), failures: $<HTMLTableElement>('turn-failures'),
    });
    announce($('turn-status'), `Updated ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    announce($('turn-status'), `TURN monitor unavailable: ${errorText(e)}`);
  }
}

async function refreshHistory(): Promise<void> {
  if (!identity) return;
  try {
    renderHistory(await opsHistory(identity.token) as OpsHistory, {
      charts: $('ops-charts'), diagnoses: $('diagnosis-timeline'), busks: $<HTMLTableElement>('busk-health'),
    });
    announce($('history-status'), `Updated ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    announce($('history-status'), `History unavailable: ${errorText(e)}`);
  }
}

async function refreshService(): Promise<void> {
  try {
    const metrics = parseMetrics(await metricsText(identity?.token ?? null));
    const dl = $('service-figures');
    dl.replaceChildren(...serviceFigures(metrics).flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    const all = $('all-metrics');
    all.replaceChildren(...metrics.map((m) => el('tr', {}, el('td', {}, m.name), el('td', {}, m.labels), el('td', {}, String(m.value)))));
    announce($('service-status'), `Updated ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    announce($('service-status'), `Service figures unavailable: ${errorText(e)}`);
  }
}

function stop(): void {
  if (timer) clearInterval(timer);
  timer = null;
  $('ops-panels').hidden = true;
}

function begin(): void {
  const allowed = hasRole(identity, 'ops');
  $('ops-panels').hidden = !allowed;
  if (!allowed) return;
  void refreshTurn();
  void refreshService();
  void refreshHistory();
  timer ??= setInterval(() => { void refreshTurn(); void refreshService(); void refreshHistory(); }, REFRESH_MS);
}

const signInOptions = {
  role: 'ops',
  devTokens: config.devTokens,
  onChange: (id: Identity | null) => {
    identity = id;
    if (id) { signaling.reconnect(); begin(); } else stop();
  },
};
followWidth($('ops-charts'));
identity = mountSignIn($('signin'), signInOptions);
signaling.start();
begin();

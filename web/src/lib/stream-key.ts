// The studio's "Go live from OBS": the WHIP address and the busker's stream key (OBS's "Bearer
// Token"). The service keeps only a digest of the key, so it is shown once, when made; rotating
// makes a new one and the old one stops working (docs/PROTOCOL.md, WHIP).
import { json } from './api';
import { el, errorText } from './ui';

interface KeyStatus { exists: boolean; createdAt: string | null }

export function mountStreamKey(root: HTMLElement, token: () => string | null): { refresh(): Promise<void> } {
  const whipUrl = `${location.origin}/whip`;
  const url = el('input', { readonly: true, value: whipUrl, 'aria-label': 'WHIP server address', class: 'mono' });
  const status = el('p', { class: 'hint', role: 'status', 'aria-live': 'polite' });
  const key = el('input', { readonly: true, 'aria-label': 'Your stream key', class: 'mono', hidden: true });
  const make = el('button', { type: 'button' }, 'Make a stream key');
  const revoke = el('button', { type: 'button', class: 'link', hidden: true }, 'Remove the key');
  root.append(
    el('p', {}, 'In OBS: Settings → Stream → Service “WHIP”, Server the address below, Bearer Token your stream key. ',
      'Title and tags go on the address: ', el('code', {}, '…/whip?title=Cello%20at%20dusk&tags=cello,jazz'), '.'),
    el('label', {}, 'Server ', url), el('div', { class: 'actions' }, make, revoke), key, status,
  );
  const refresh = async () => {
    const t = token();
    root.hidden = !t;
    if (!t) return;
    try {
      const s = await json<KeyStatus>('/api/me/stream-key', {}, t);
      make.textContent = s.exists ? 'Rotate the stream key' : 'Make a stream key';
      revoke.hidden = !s.exists;
      if (key.hidden) status.textContent = s.exists ? `You have a stream key since ${new Date(s.createdAt!).toLocaleString()}. It is shown only when made: rotate it to see a new one.` : 'No stream key yet.';
    } catch (err) {
      status.textContent = `Could not read your stream key: ${errorText(err)}`;
    }
  };
  make.addEventListener('click', async () => {
    const t = token();
    if (!t) return;
    if (!key.hidden || make.textContent?.startsWith('Rotate')) {
      if (!confirm('A new key stops the old one: OBS needs the new key. Go on?')) return;
    }
    make.disabled = true;
    try {
      const made = await json<{ key: string }>('/api/me/stream-key', { method: 'POST' }, t);
      key.value = made.key;
      key.hidden = false;
      key.select();
      status.textContent = 'Your new stream key: copy it into OBS now, it is not shown again.';
      await refresh();
    } catch (err) {
      status.textContent = `Could not make a stream key: ${errorText(err)}`;
    } finally {
      make.disabled = false;
    }
  });
  revoke.addEventListener('click', async () => {
    const t = token();
    if (!t || !confirm('Remove the stream key? OBS can no longer go live with it.')) return;
    try {
      await fetch('/api/me/stream-key', { method: 'DELETE', headers: { Authorization: `Bearer ${t}` } });
      key.hidden = true;
      key.value = '';
      status.textContent = 'The stream key is removed.';
      await refresh();
    } catch (err) {
      status.textContent = `Could not remove the stream key: ${errorText(err)}`;
    }
  });
  return { refresh };
}

// Keeps a signed-in page's token alive for as long as the page is open. The service ends a STOMP
// session whose token expires (an ERROR frame; for a busker, the end of the show) unless the client
// sent /app/auth.refresh with a fresh token first (PROTOCOL.md). So at ~80% of the token's lifetime
// (from its iat and exp) the keeper asks a refresh source for a new token, keeps it for the next
// CONNECT and hands it to the open session with /app/auth.refresh. Refresh sources, first found wins:
//  - the embedding app: `window.busking = { refreshToken: () => Promise<string> }`, set by the page or
//    app that embeds the studio and holds the identity provider's session (production);
//  - the embedded development setup: a new token from POST /api/dev/token, same name, roles and
//    lifetime, for a token that came from it.
// Without a source, or while refreshing fails, the busker is warned visibly before the token expires
// ("Your sign-in expires in N min") and may paste a new token there without leaving the show.
import { devToken } from './api';
import { useToken, type Identity } from './auth';
import type { Signaling } from './stomp';
import { el, errorText, show } from './ui';

/** Returns a fresh token for the same user. */
export type RefreshToken = () => Promise<string>;

declare global {
  interface Window { busking?: { refreshToken?: RefreshToken } }
}

export interface TokenKeeperOptions {
  signaling: Signaling;
  /** Whether the service issues development tokens (GET /api/config `devTokens`). */
  devTokens: boolean;
  /** A fresh token is in use: the page's identity from now on (the next CONNECT uses it). */
  onIdentity(id: Identity): void;
  /** An empty element for the visible warning; the keeper fills and shows it. */
  warning: HTMLElement;
}

const REFRESH_AT = 0.8; // of the lifetime
const WARN_BEFORE_MS = 10 * 60_000; // at most; at least half the lifetime for short tokens
const TICK_MS = 1000;

export function expiresInText(ms: number): string {
  const min = Math.ceil(ms / 60_000);
  return ms < 60_000 ? 'Your sign-in expires in less than a minute' : `Your sign-in expires in ${min} min`;
}

export class TokenKeeper {
  private id: Identity | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private ticker: ReturnType<typeof setInterval> | null = null;
  private failures = 0;
  private lastError = '';
  private readonly text: HTMLElement;
  private readonly detail: HTMLElement;
  private readonly pasted: HTMLTextAreaElement;

  constructor(private readonly opts: TokenKeeperOptions) {
    const w = opts.warning;
    this.text = el('p', { id: 'token-warning-text', class: 'warn-text', role: 'status', 'aria-live': 'polite' });
    this.detail = el('p', { class: 'hint' });
    this.pasted = el('textarea', { id: 'renew-token', name: 'token', rows: 2, spellcheck: 'false', autocomplete: 'off' });
    const error = el('p', { class: 'error', role: 'alert' });
    const form = el('form', { 'aria-label': 'Renew your sign-in' },
      el('label', { for: 'renew-token' }, 'New access token'), this.pasted,
      el('button', { type: 'submit' }, 'Renew sign-in'), error);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      error.textContent = '';
      this.apply(this.pasted.value.trim(), 'external')
        .then(() => { this.pasted.value = ''; })
        .catch((err) => { error.textContent = `Could not renew: ${errorText(err)}`; });
    });
    w.replaceChildren(this.text, this.detail, form);
    show(w, false);
  }

  /** Watches this identity's expiry (null: signed out, nothing to keep). */
  watch(id: Identity | null): void {
    this.stop();
    this.id = id;
    this.failures = 0;
    this.lastError = '';
    if (!id || id.expiresAt === null) return;
    const now = Date.now();
    const from = id.issuedAt !== null && id.issuedAt <= now ? id.issuedAt : now;
    const at = from + (id.expiresAt - from) * REFRESH_AT;
    this.refreshTimer = setTimeout(() => void this.refresh(), Math.max(0, at - now));
    this.ticker = setInterval(() => this.updateWarning(), TICK_MS);
    this.updateWarning();
  }

  stop(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.ticker) clearInterval(this.ticker);
    this.refreshTimer = this.ticker = null;
    show(this.opts.warning, false);
  }

  /** The refresh source for the current identity, if there is one. */
  private source(): RefreshToken | null {
    const hook = window.busking?.refreshToken;
    if (typeof hook === 'function') return hook;
    const id = this.id;
    if (this.opts.devTokens && id?.source === 'dev') {
      const lifetimeS = id.expiresAt !== null && id.issuedAt !== null ? Math.round((id.expiresAt - id.issuedAt) / 1000) : undefined;
      const ttl = lifetimeS === undefined ? undefined : Math.min(86400, Math.max(10, lifetimeS));
      return async () => (await devToken(id.name, id.roles, ttl)).token;
    }
    return null;
  }

  private async refresh(): Promise<void> {
    this.refreshTimer = null;
    const id = this.id;
    const source = this.source();
    if (!id || !source) { this.updateWarning(); return; }
    try {
      await this.apply(await source(), id.source);
    } catch (e) {
      this.failures++;
      this.lastError = errorText(e);
      this.updateWarning();
      // Try again, sooner as the expiry nears, until it passes.
      const left = (id.expiresAt ?? 0) - Date.now();
      if (left > 0 && this.id === id) this.refreshTimer = setTimeout(() => void this.refresh(), Math.max(1000, Math.min(30_000, left / 4)));
    }
  }

  /** Puts a new token in use: kept for the next CONNECT, and handed to the open session. */
  private async apply(token: string, source: Identity['source']): Promise<void> {
    const cur = this.id;
    const next = useToken(token, source);
    if (!next) throw new Error('that is not a valid, unexpired token');
    if (cur && next.id !== cur.id) {
      useToken(cur.token, cur.source); // keep the one we had
      throw new Error('the new token is for another user');
    }
    this.opts.onIdentity(next);
    // Not connected right now: the reconnect presents the new token anyway.
    if (this.opts.signaling.client.connected) await this.opts.signaling.request('/app/auth.refresh', { token: next.token });
    this.watch(next);
  }

  private updateWarning(): void {
    const id = this.id;
    if (!id || id.expiresAt === null) { show(this.opts.warning, false); return; }
    const now = Date.now();
    const left = id.expiresAt - now;
    const lifetime = id.expiresAt - (id.issuedAt ?? now);
    const warnFrom = Math.min(WARN_BEFORE_MS, lifetime / 2);
    const hasSource = !!this.source();
    // A working refresh source needs no warning; one that keeps failing, or none, does.
    const due = left <= warnFrom && (!hasSource || this.failures > 0);
    if (!due || left <= 0) { show(this.opts.warning, false); return; }
    const text = expiresInText(left);
    if (this.text.textContent !== text) this.text.textContent = text;
    const detail = hasSource
      ? `Renewing it failed (${this.lastError}); still trying. You can also paste a new access token.`
      : 'Paste a new access token from your identity provider to stay live; when it expires, your show ends.';
    if (this.detail.textContent !== detail) this.detail.textContent = detail;
    show(this.opts.warning, true);
  }
}

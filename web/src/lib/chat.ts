// The chat beside a busk: messages on /topic/busk.{id}.chat (the service replays the last ones to a
// new subscriber, and again after a reconnect, hence the de-duplication), sent to /app/busk.{id}.chat.
import { el, errorText } from './ui';
import type { Signaling, LinkState } from './stomp';
import { RequestError } from './stomp';
import type { ChatMessage } from './types';

const KEEP = 200;

export interface ChatOptions {
  signaling: Signaling;
  buskId: string;
  /** Who this page writes as: a signed-in name, or null for a guest label chosen by the service. */
  myName: string | null;
  myId?: string | null;
  maxLength?: number;
}

export class Chat {
  private readonly log: HTMLOListElement;
  private readonly input: HTMLInputElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly error: HTMLElement;
  private readonly seen = new Set<string>();
  private readonly stops: (() => void)[] = [];

  constructor(root: HTMLElement, private readonly opts: ChatOptions) {
    const inputId = `chat-text-${opts.buskId}`;
    this.log = el('ol', { class: 'chat-log', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': 'Messages', tabindex: 0 });
    this.input = el('input', { id: inputId, name: 'text', type: 'text', maxlength: opts.maxLength ?? 500, autocomplete: 'off', required: true, placeholder: 'Say something nice' });
    this.sendButton = el('button', { type: 'submit' }, 'Send');
    this.error = el('p', { class: 'error', role: 'alert' });
    const form = el('form', { class: 'chat-form', 'aria-label': 'Write in the chat' },
      el('label', { for: inputId, class: 'visually-hidden' }, 'Chat message'), this.input, this.sendButton);
    const who = el('p', { class: 'hint' }, opts.myName ? `Chatting as ${opts.myName}` : 'Chatting as a guest (sign in on the studio page to use your name)');
    root.replaceChildren(el('h2', {}, 'Chat'), this.log, form, who, this.error);
    form.addEventListener('submit', (e) => { e.preventDefault(); void this.send(); });
    // The service replays the last messages into this subscription alone (PROTOCOL.md).
    this.stops.push(opts.signaling.subscribe<ChatMessage>(`/topic/busk.${opts.buskId}.chat`, (m) => this.add(m)));
    this.stops.push(opts.signaling.onState((s: LinkState) => { this.sendButton.disabled = s !== 'online'; }));
  }

  close(): void {
    this.stops.forEach((s) => s());
    this.input.disabled = true;
    this.sendButton.disabled = true;
  }

  private async send(): Promise<void> {
    const text = this.input.value.trim();
    if (!text) return;
    this.error.textContent = '';
    this.sendButton.disabled = true;
    try {
      await this.opts.signaling.request(`/app/busk.${this.opts.buskId}.chat`, { text });
      this.input.value = '';
    } catch (e) {
      this.error.textContent = e instanceof RequestError && e.code === 'rate-limited' ? 'Slow down a little: too many messages.' : `Not sent: ${errorText(e)}`;
    } finally {
      this.sendButton.disabled = this.opts.signaling.state !== 'online';
      this.input.focus();
    }
  }

  private add(m: ChatMessage): void {
    if (!m || typeof m.text !== 'string' || this.seen.has(m.id)) return;
    this.seen.add(m.id);
    const at = new Date(typeof m.at === 'number' ? m.at : Date.parse(String(m.at)));
    const mine = !!this.opts.myId && m.from?.id === this.opts.myId;
    const stick = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    this.log.append(el('li', { class: mine ? 'mine' : m.from?.anonymous ? 'guest' : undefined },
      el('span', { class: 'who' }, m.from?.name ?? 'someone'),
      ' ',
      el('span', { class: 'text' }, m.text),
      isNaN(at.getTime()) ? null : el('time', { datetime: at.toISOString() }, at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })),
    ));
    while (this.log.children.length > KEEP) this.log.firstElementChild!.remove();
    if (stick) this.log.scrollTop = this.log.scrollHeight;
  }
}

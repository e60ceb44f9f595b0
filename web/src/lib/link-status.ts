// The small connection indicator in the page header.
import type { Signaling, LinkState } from './stomp';

const TEXT: Record<LinkState, string> = {
  connecting: 'Connecting…',
  online: 'Connected',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

export function showLinkState(signaling: Signaling, target: HTMLElement): void {
  signaling.onState((s) => {
    target.textContent = TEXT[s];
    target.dataset.state = s;
  });
}
